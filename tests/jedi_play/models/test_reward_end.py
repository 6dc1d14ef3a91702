import math

import torch

from jedi_play.models.reward_end import RewardEndConfig, RewardEndModel


def test_predictions_take_the_most_likely_class_and_break_ties_towards_nothing_happening():
    reward, end = RewardEndModel.predictions(torch.zeros(4, 3), torch.zeros(4, 2))
    assert reward.tolist() == [0.0] * 4 and not end.any()
    reward, end = RewardEndModel.predictions(torch.tensor([[0.0, 0.0, 5.0], [5.0, 0.0, 0.0]]), torch.tensor([[0.0, 3.0], [3.0, 0.0]]))
    assert reward.tolist() == [1.0, -1.0] and end.tolist() == [True, False]


def test_sampled_predictions_follow_the_predicted_distribution():
    # reward +1 with probability 0.1, termination with probability 0.2: argmax never shows either
    n = 20_000
    reward_logits = torch.log(torch.tensor([0.05, 0.85, 0.10])).expand(n, 3)
    end_logits = torch.log(torch.tensor([0.8, 0.2])).expand(n, 2)
    reward, end = RewardEndModel.predictions(reward_logits, end_logits)
    assert (reward == 0).all() and not end.any()
    generator = torch.Generator().manual_seed(0)
    reward, end = RewardEndModel.sample_predictions(reward_logits, end_logits, generator)
    assert reward.shape == (n,) and end.shape == (n,) and end.dtype == torch.bool
    tolerance = 4 * math.sqrt(0.1 * 0.9 / n)  # four standard errors
    assert abs((reward == 1).float().mean().item() - 0.10) < tolerance
    assert abs((reward == -1).float().mean().item() - 0.05) < tolerance
    assert abs(end.float().mean().item() - 0.20) < 4 * math.sqrt(0.2 * 0.8 / n)


def test_expected_outcomes_are_the_means_of_the_distributions():
    reward_logits = torch.log(torch.tensor([[0.05, 0.85, 0.10]]))
    end_logits = torch.log(torch.tensor([[0.8, 0.2]]))
    reward, end = RewardEndModel.expected_outcomes(reward_logits, end_logits)
    torch.testing.assert_close(reward, torch.tensor([0.05]))
    torch.testing.assert_close(end, torch.tensor([0.2]))


def small_model(foresight: bool) -> RewardEndModel:
    torch.manual_seed(0)
    model = RewardEndModel(RewardEndConfig(2, 8, num_actions=3, stage_channels=(4, 4), lstm_dim=8, foresight=foresight))
    for head in (model.reward_head, model.end_head):  # off the zero init, so outputs depend on the inputs
        torch.nn.init.normal_(head.weight)
    return model


def test_default_alignment_reads_each_step_from_the_transition_it_makes():
    model = small_model(foresight=False)
    states, actions = torch.randn(2, 5, 2, 8, 8), torch.randint(0, 3, (2, 4))
    x, a, nx = model.window_inputs(states, actions)
    assert torch.equal(x, states[:, :-1]) and torch.equal(a, actions) and torch.equal(nx, states[:, 1:])
    x, a, nx = model.step_inputs(states, actions[:, 0], states[:, 0])
    assert torch.equal(x, states[:, -1:]) and torch.equal(a, actions[:, :1]) and torch.equal(nx, states[:, None, 0])


def test_foresight_reads_each_step_from_the_transition_before_it_and_its_action():
    model = small_model(foresight=True)
    assert model.first_step == 1
    states, actions = torch.randn(2, 5, 2, 8, 8), torch.randint(0, 3, (2, 4))
    x, a, nx = model.window_inputs(states, actions)  # steps 1..3: (x_{t-1}, a_t, x_t)
    assert torch.equal(x, states[:, :3]) and torch.equal(a, actions[:, 1:]) and torch.equal(nx, states[:, 1:4])
    # a dream step's outcome never reads the sampled next state
    first = model(*model.step_inputs(states, actions[:, 0], torch.randn(2, 2, 8, 8)))[0]
    second = model(*model.step_inputs(states, actions[:, 0], torch.randn(2, 2, 8, 8)))[0]
    torch.testing.assert_close(first, second)
    torch.testing.assert_close(first, model(states[:, 3:4], actions[:, :1], states[:, 4:5])[0])


def test_foresight_loss_skips_the_first_step_and_steps_whose_previous_state_is_padding():
    model = small_model(foresight=True)
    states, actions = torch.randn(2, 5, 2, 8, 8), torch.randint(0, 3, (2, 4))
    rewards, ends = torch.tensor([[1.0, 0.0, 1.0, 0.0]] * 2), torch.zeros(2, 4, dtype=torch.bool)
    mask = torch.tensor([[True] * 4, [False, True, True, True]])
    loss, _ = model.loss(model.window_inputs(states, actions), rewards, ends, mask)
    # the first step's label and the second game's step 1 (its state 0 is padding) do not count
    other = rewards.clone()
    other[:, 0] = -1.0
    other[1, 1] = -1.0
    torch.testing.assert_close(model.loss(model.window_inputs(states, actions), other, ends, mask)[0], loss)
    other[0, 1] = -1.0
    assert not torch.allclose(model.loss(model.window_inputs(states, actions), other, ends, mask)[0], loss)
