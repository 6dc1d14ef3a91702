import math

import torch

from jedi_play.models.reward_end import RewardEndModel


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
