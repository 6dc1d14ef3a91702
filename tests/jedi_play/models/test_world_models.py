"""JEDI's self-consistency training wiring and DIAMOND's paper-size network."""

import pytest
import torch
from torch.nn import functional as F

from jedi_play.models.diamond import DIAMONDConfig, DIAMONDWorldModel
from jedi_play.models import jedi as jedi_module
from jedi_play.models.jedi import JEDIConfig, JEDIWorldModel, motion_weighted_mse
from jedi_play.models.world_model import Batch


def make_batch(b=3, steps=5, num_actions=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Batch(
        frames=torch.rand(b, steps + 1, 3, 64, 64, generator=g) * 2 - 1,
        actions=torch.randint(0, num_actions, (b, steps), generator=g),
        rewards=torch.tensor([[0.0, 1.0, 0.0, -2.0, 0.0]] * b)[:, :steps],
        ends=torch.zeros(b, steps, dtype=torch.bool),
        mask=torch.ones(b, steps + 1, dtype=torch.bool),
    )


@pytest.fixture(scope="module")
def jedi():
    torch.manual_seed(0)
    return JEDIWorldModel(JEDIConfig(num_actions=9))


def record_denoiser_calls(model, monkeypatch):
    calls = []
    original = model.denoiser.loss

    def spy(x0, sigma=None, **cond):
        calls.append({"x0": x0, "obs": cond["obs"], "actions": cond["actions"]})
        return original(x0, sigma, **cond)

    monkeypatch.setattr(model.denoiser, "loss", spy)
    return calls


def test_latents_are_16x8x8_and_soft_clamped(jedi):
    z = jedi.encode(torch.randn(2, 3, 3, 64, 64) * 100)
    assert z.shape == (2, 3, 16, 8, 8)
    assert z.abs().max() < 3.0


def test_targets_stop_gradient_conditioning_does_not(jedi, monkeypatch):
    calls = record_denoiser_calls(jedi, monkeypatch)
    batch = make_batch()
    loss, metrics = jedi.training_loss(batch)
    assert len(calls) == 2
    for call in calls:
        assert not call["x0"].requires_grad  # stop-gradient on the target latent
        assert call["obs"].requires_grad  # the encoder learns through the conditioning latents
    with torch.no_grad():
        z = jedi.encode(batch.frames)
    torch.testing.assert_close(calls[0]["x0"], z[:, 4])
    torch.testing.assert_close(calls[1]["x0"], z[:, 5])
    torch.testing.assert_close(calls[0]["actions"], batch.actions[:, :4])
    torch.testing.assert_close(calls[1]["actions"], batch.actions[:, 1:5])
    assert {"denoise_loss", "reward_loss", "end_loss", "decoder_loss"} <= metrics.keys()


def test_encoder_learns_from_the_denoising_loss():
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9))
    torch.nn.init.normal_(model.denoiser.inner.conv_out.weight, std=0.01)  # output layers start at zero
    loss, _ = model.training_loss(make_batch())
    loss.backward()
    assert model.encoder.layers[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("switch_prob", [0.0, 1.0])
def test_random_switching_chooses_the_next_conditioning_latent(switch_prob, monkeypatch):
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9, switch_prob=switch_prob))
    calls = record_denoiser_calls(model, monkeypatch)
    batch = make_batch()
    model.training_loss(batch)
    with torch.no_grad():
        z = model.encode(batch.frames)
    b = batch.frames.shape[0]
    # switched, the two predictions are two calls; on real latents, one call on both batches side by side
    assert len(calls) == (2 if switch_prob == 1.0 else 1)
    second = calls[1]["obs"] if switch_prob == 1.0 else calls[0]["obs"][b:]
    assert second.shape[0] == b
    cond = second[:, -1]
    torch.testing.assert_close(second[:, :3], z[:, 1:4])
    if switch_prob == 0.0:
        torch.testing.assert_close(calls[0]["obs"][:b], z[:, :4])
        torch.testing.assert_close(cond, z[:, 4])  # the encoder's latent of the real frame
    else:
        assert not torch.allclose(cond, z[:, 4], atol=1e-3)  # the denoiser's own output
        assert cond.abs().max() < 3.0  # clamped like the encoder


@pytest.mark.parametrize("weight,reaches_encoder", [(0.0, False), (0.5, True)])
def test_decoder_gradient_reaches_the_encoder_only_as_an_ablation(weight, reaches_encoder, monkeypatch):
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9, decoder_grad_weight=weight))
    seen = []
    original = model.decoder.forward
    monkeypatch.setattr(model.decoder, "forward", lambda z: seen.append(z.requires_grad) or original(z))
    model.training_loss(make_batch())
    assert seen == [reaches_encoder]


def test_motion_weighted_mse_weighs_the_pixels_that_moved() -> None:
    previous = torch.zeros(2, 3, 8, 8)
    frame = previous.clone()
    frame[:, :, 2, 3] = 1.0  # one pixel moved (a "ball")
    on_ball, elsewhere = frame.clone(), frame.clone()
    on_ball[:, :, 2, 3] = 0.0  # the decoder misses the ball ...
    elsewhere[:, :, 5, 5] = 1.0  # ... or errs as much on a still pixel
    assert motion_weighted_mse(on_ball, frame, previous, 0.0) == F.mse_loss(on_ball, frame)
    assert motion_weighted_mse(on_ball, frame, previous, 0.0) == motion_weighted_mse(elsewhere, frame, previous, 0.0)
    # weight 63: the moved pixel weighs 64 of 127 (64 + 63 still pixels), a still one 1 of 127
    torch.testing.assert_close(motion_weighted_mse(on_ball, frame, previous, 63.0), torch.tensor(64 / 127))
    torch.testing.assert_close(motion_weighted_mse(elsewhere, frame, previous, 63.0), torch.tensor(1 / 127))
    uniform = frame + 0.5  # the same error everywhere: the weights do not change the loss's scale
    torch.testing.assert_close(motion_weighted_mse(uniform, frame, previous, 63.0), F.mse_loss(uniform, frame))
    with pytest.raises(ValueError, match="decoder_motion_weight must be at least 0"):
        JEDIConfig(num_actions=9, decoder_motion_weight=-1.0)


def test_decoder_loss_weighs_motion_from_the_frame_before(monkeypatch) -> None:
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9, decoder_motion_weight=5.0))
    seen = []
    monkeypatch.setattr(jedi_module, "motion_weighted_mse", lambda r, f, p, w: seen.append((f, p, w)) or F.mse_loss(r, f))
    batch = make_batch()
    model.training_loss(batch)
    (frame, previous, weight), = seen
    assert weight == 5.0
    torch.testing.assert_close(frame, batch.frames[:, -1])  # the decoded frame, newest of the segment
    torch.testing.assert_close(previous, batch.frames[:, -2])


def test_dream_reward_loss_reads_the_sampled_next_latent_of_the_last_step_only(monkeypatch):
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9, dream_reward_weight=1.0))
    sampled, seen = [], []
    predict, forward = model.predict_next, model.reward_end.forward
    monkeypatch.setattr(model, "predict_next", lambda s, a: sampled.append((s, a, predict(s, a))) or sampled[-1][2])
    monkeypatch.setattr(model.reward_end, "forward", lambda x, a, nx, state=None: seen.append(nx) or forward(x, a, nx, state))
    batch = make_batch()
    _, metrics = model.training_loss(batch)
    assert len(sampled) == 1 and len(seen) == 2 and {"dream_reward_loss", "dream_end_loss"} <= metrics.keys()
    states, actions, dreamed = sampled[0]
    z = model.encode(batch.frames).detach()
    torch.testing.assert_close(states, z[:, :4])
    torch.testing.assert_close(actions, batch.actions[:, :4])
    torch.testing.assert_close(seen[1][:, -1], dreamed)  # the last transition ends in the dream's sample
    torch.testing.assert_close(seen[1][:, :-1], seen[0][:, :3].detach())  # the others in real latents

    model.zero_grad()
    torch.nn.init.normal_(model.reward_end.reward_head.weight, std=0.1)  # zero-initialised heads pass no gradient back
    torch.manual_seed(1)
    loss, _ = model.dream_reward_loss(model.encode(batch.frames), batch)
    loss.backward()
    assert all(p.grad is None for p in model.denoiser.parameters())  # the sample is a fixed input
    assert model.reward_end.conv_in.weight.grad.abs().sum() > 0
    other_steps = Batch(batch.frames, batch.actions, batch.rewards * torch.tensor([1.0, -1.0, 1.0, 1.0, 0.0]), batch.ends, batch.mask)
    torch.manual_seed(1)
    torch.testing.assert_close(model.dream_reward_loss(model.encode(batch.frames), other_steps)[0], loss)  # only step n - 1 counts


def test_dream_reward_loss_is_off_by_default(jedi, monkeypatch):
    monkeypatch.setattr(jedi, "predict_next", lambda *a: pytest.fail("the dream reward loss ran with weight 0"))
    _, metrics = jedi.training_loss(make_batch())
    assert "dream_reward_loss" not in metrics


def test_encoder_learning_rate_is_scaled(jedi):
    groups = jedi.parameter_groups(1e-4, 0.3)
    assert groups[0]["lr"] == pytest.approx(3e-5) and groups[1]["lr"] == pytest.approx(1e-4)
    assert len(groups[0]["params"]) == len(list(jedi.encoder.parameters()))
    n_all = sum(p.numel() for g in groups for p in g["params"])
    assert n_all == sum(p.numel() for p in jedi.parameters())


def test_ema_target_encoder_option():
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9, ema_target_decay=0.9))
    before = [p.clone() for p in model.target_encoder.parameters()]
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)
    model.update_target_encoder()
    for b, pt, p in zip(before, model.target_encoder.parameters(), model.encoder.parameters()):
        torch.testing.assert_close(pt, 0.9 * b + 0.1 * p)


def test_diamond_is_paper_size_and_quantises():
    model = DIAMONDWorldModel(DIAMONDConfig(num_actions=18))
    n = sum(p.numel() for p in model.denoiser.parameters())
    assert 4.2e6 < n < 4.6e6  # "about 4.4M parameters"
    assert model.cfg.edm.sigma_offset == 0.3
    x = model.postprocess(torch.linspace(-1.5, 1.5, 1001))
    levels = (x + 1) * 127.5
    assert x.min() == -1 and x.max() == 1
    torch.testing.assert_close(levels, levels.round())


def test_diamond_training_loss_and_backward():
    torch.manual_seed(0)
    model = DIAMONDWorldModel(DIAMONDConfig(num_actions=9))
    loss, metrics = model.training_loss(make_batch(b=2))
    loss.backward()
    assert torch.isfinite(loss) and {"denoise_loss", "reward_loss", "end_loss"} <= metrics.keys()
    assert model.denoiser.inner.conv_out.weight.grad.abs().sum() > 0


def test_config_round_trips_through_a_dict():
    cfg = JEDIConfig(num_actions=6, switch_prob=0.25)
    assert JEDIConfig.from_dict(cfg.to_dict()) == cfg
    dcfg = DIAMONDConfig(num_actions=4)
    assert DIAMONDConfig.from_dict(dcfg.to_dict()) == dcfg


@pytest.mark.parametrize("latent_norm, predict_delta", [(False, False), (True, False), (False, True), (True, True)])
def test_diffusion_space_round_trips(latent_norm, predict_delta):
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9, latent_norm=latent_norm, predict_delta=predict_delta))
    model.training_loss(make_batch(b=4))  # sets the running statistics
    states, nxt = torch.randn(4, 4, 16, 8, 8) * 0.1, torch.randn(4, 16, 8, 8) * 0.1
    target = model.diffusion_target(nxt, states)
    assert torch.allclose(model.next_from_diffusion(target, states), nxt, atol=1e-6)
    if predict_delta:  # the denoiser's zero output copies the last latent
        assert torch.allclose(model.next_from_diffusion(torch.zeros_like(nxt), states), states[:, -1])
    if not latent_norm and not predict_delta:  # the paper's: the latents themselves
        assert torch.equal(target, nxt) and torch.equal(model.diffusion_inputs(states), states)


def test_latent_norm_scales_the_denoisers_space_to_sigma_data(monkeypatch):
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9, latent_norm=True, predict_delta=True, latent_norm_momentum=0.5))
    calls = record_denoiser_calls(model, monkeypatch)
    batch = make_batch(b=8)
    model.training_loss(batch)
    with torch.no_grad():
        z = model.encode(batch.frames)
    # the first batch sets the statistics: per-element mean, the std of an element over the batch, the RMS step
    assert torch.allclose(model.latent_mean, z.flatten(0, 1).mean(0), atol=1e-6)
    assert model.latent_std.item() == pytest.approx(z.flatten(0, 1).var(0).mean().sqrt().item(), rel=1e-5)
    assert model.delta_std.item() == pytest.approx((z[:, 1:] - z[:, :-1]).pow(2).mean().sqrt().item(), rel=1e-5)
    obs = calls[0]["obs"]
    assert obs.flatten(0, 1).var(0).mean().sqrt().item() == pytest.approx(0.5, rel=0.2)  # sigma_data
    assert calls[0]["x0"].pow(2).mean().sqrt().item() == pytest.approx(0.5, rel=0.3)
    before = model.latent_std.clone()
    model.eval()
    model.training_loss(batch)  # validation does not move the statistics
    assert torch.equal(model.latent_std, before)
    model.train()
    model.training_loss(make_batch(b=8, seed=1))
    assert model.latent_stats_updates.item() == 2 and not torch.equal(model.latent_std, before)


def test_the_papers_model_has_no_running_statistics(jedi):
    assert not any("latent_" in name for name, _ in jedi.named_buffers())


def test_mean_predictor_is_off_in_the_papers_model(jedi):
    assert jedi.mean_predictor is None and not any(name.startswith("mean_predictor.") for name, _ in jedi.named_parameters())
    assert "mean_loss" not in jedi.training_loss(make_batch())[1]


def test_mean_predictor_regresses_the_target_and_the_denoiser_learns_the_residual(monkeypatch):
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9, mean_predictor_channels=(32,), latent_norm=True, predict_delta=True, switch_prob=0.0))
    torch.nn.init.normal_(model.mean_predictor.net.conv_out.weight, std=0.1)  # zero-initialised: give it an output
    calls = record_denoiser_calls(model, monkeypatch)
    means = []
    forward = model.mean_predictor.forward
    monkeypatch.setattr(model.mean_predictor, "forward", lambda obs, a: means.append(forward(obs, a)) or means[-1])
    batch = make_batch()
    loss, metrics = model.training_loss(batch)
    assert len(calls) == 1 and len(means) == 1  # not switched: both predictions in one call, side by side
    b = batch.frames.shape[0]
    z = model.encode(batch.frames).detach()
    target1 = model.diffusion_target(z[:, 4], z[:, :4])
    target2 = model.diffusion_target(z[:, 5], z[:, 1:5])
    torch.testing.assert_close(calls[0]["x0"][:b], target1 - means[0][:b].detach())  # the residual around the mean
    assert not calls[0]["x0"].requires_grad  # the mean is a fixed offset for the denoiser
    halves = zip(means[0].chunk(2), (target1, target2))
    assert metrics["mean_loss"] == pytest.approx(sum(torch.nn.functional.mse_loss(m, t).item() for m, t in halves) / 2, rel=1e-4)
    loss.backward()
    assert model.mean_predictor.net.conv_out.weight.grad.abs().sum() > 0
    assert model.encoder.layers[0].weight.grad.abs().sum() > 0  # the encoder learns through the mean's conditioning too


def test_predict_next_adds_the_mean_to_the_sampled_residual(monkeypatch):
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9, mean_predictor_channels=(32,))).eval()
    monkeypatch.setattr(model, "postprocess", lambda x: x)
    states, actions = torch.randn(2, 4, 16, 8, 8) * 0.1, torch.randint(0, 9, (2, 4))
    residual = model.predict_next(states, actions, generator=torch.Generator().manual_seed(3))  # untrained mean: 0
    shift = torch.randn(2, 16, 8, 8)
    monkeypatch.setattr(model, "mean_prediction", lambda obs, a: shift)
    torch.testing.assert_close(model.predict_next(states, actions, generator=torch.Generator().manual_seed(3)), residual + shift)


def test_mean_predictor_has_its_own_learning_rate():
    from jedi_play.models.jedi import MEAN_PREDICTOR_LR_SCALE

    model = JEDIWorldModel(JEDIConfig(num_actions=9, mean_predictor_channels=(32,)))
    groups = model.parameter_groups(1e-4, 0.3)
    assert [g["lr"] for g in groups] == pytest.approx([3e-5, 1e-4, 1e-4 * MEAN_PREDICTOR_LR_SCALE])
    assert len(groups[2]["params"]) == len(list(model.mean_predictor.parameters()))
    assert sum(p.numel() for g in groups for p in g["params"]) == sum(p.numel() for p in model.parameters())


def reads_mean_model() -> JEDIWorldModel:
    torch.manual_seed(0)
    model = JEDIWorldModel(JEDIConfig(num_actions=9, mean_predictor_channels=(32,), latent_norm=True, predict_delta=True, reward_reads_mean=True))
    torch.nn.init.normal_(model.mean_predictor.net.conv_out.weight, std=0.1)  # zero-initialised: give it an output
    return model.eval()


def test_reward_reads_the_regressed_next_latent_from_the_states_up_to_each_step():
    model = reads_mean_model()
    states, actions = torch.randn(2, 7, 16, 8, 8) * 0.1, torch.randint(0, 9, (2, 6))
    with torch.no_grad():
        x, a, nexts = model.reward_window_inputs(states, actions)
        assert x.shape == nexts.shape == (2, 6, 16, 8, 8)
        torch.testing.assert_close(x, states[:, :6])
        torch.testing.assert_close(a, actions)
        for t in (3, 5):  # a whole context inside the window: the step's own inputs, whatever was sampled
            step = model.reward_step_inputs(states[:, t - 3 : t + 1], actions[:, t - 3 : t + 1], torch.randn(2, 16, 8, 8))
            torch.testing.assert_close(step[2][:, 0], nexts[:, t])
            torch.testing.assert_close(step[0][:, 0], states[:, t])
            torch.testing.assert_close(step[1][:, 0], actions[:, t])
        # the first step: its context is the first state repeated after NOOPs
        padded = model.regressed_next(states[:, :1].expand(-1, 4, -1, -1, -1), torch.cat([torch.zeros(2, 3, dtype=torch.long), actions[:, :1]], 1))
        torch.testing.assert_close(nexts[:, 0], padded)
        assert not torch.allclose(nexts[:, 5], states[:, 6])  # not the real next latent


def test_a_sampled_step_hands_the_reward_model_its_regressed_mean(monkeypatch):
    model = reads_mean_model()
    states, actions = torch.randn(2, 4, 16, 8, 8) * 0.1, torch.randint(0, 9, (2, 4))
    forward, calls = model.mean_predictor.forward, []
    monkeypatch.setattr(model.mean_predictor, "forward", lambda *a: calls.append(1) or forward(*a))
    with torch.no_grad():
        nxt, regressed = model.sample_next(states, actions)
        step = model.reward_step_inputs(states, actions, nxt, regressed)
    assert len(calls) == 1  # the regression runs once per dreamed step
    with torch.no_grad():
        torch.testing.assert_close(step[2][:, 0], model.regressed_next(states, actions))
    assert not torch.allclose(nxt, regressed)  # the sample is drawn around the mean, not the mean


def test_a_reward_that_reads_the_mean_trains_the_reward_model_not_the_regression(monkeypatch):
    model = reads_mean_model().train()
    torch.nn.init.normal_(model.reward_end.reward_head.weight, std=0.1)  # zero-initialised: pass a gradient back
    batch = make_batch()
    read = []
    loss = model.reward_end.loss
    monkeypatch.setattr(model.reward_end, "loss", lambda inputs, *rest: read.append(inputs) or loss(inputs, *rest))
    model.training_loss(batch)
    assert len(read) == 1 and not torch.allclose(read[0][2], model.encode(batch.frames)[:, 1:])  # not the real next latents
    model.zero_grad()
    loss(read[0], batch.rewards, batch.ends, batch.mask[:, :-1])[0].backward()
    assert model.reward_end.conv_in.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.mean_predictor.parameters())


@pytest.mark.parametrize(
    "options",
    [{}, {"mean_predictor_channels": (32,), "reward_foresight": True}, {"mean_predictor_channels": (32,), "dream_reward_weight": 1.0}],
)
def test_reward_reads_mean_needs_a_mean_predictor_and_no_other_reward_alignment(options):
    with pytest.raises(ValueError, match="reward_reads_mean"):
        JEDIConfig(num_actions=9, reward_reads_mean=True, **options)


def test_reward_reads_standardized_latents_in_training_and_in_a_dream():
    torch.manual_seed(0)
    cfg = dict(num_actions=9, mean_predictor_channels=(32,), latent_norm=True, predict_delta=True)
    plain, standardized = JEDIWorldModel(JEDIConfig(**cfg)), JEDIWorldModel(JEDIConfig(**cfg, reward_reads_standardized=True))
    standardized.load_state_dict(plain.state_dict())
    mean = torch.randn(16, 8, 8)  # latents drifted to a fixed pattern with a small spread around it
    for model in (plain, standardized):
        model.latent_mean.copy_(mean)
        model.latent_std.fill_(0.01)
    states, actions = standardized.latent_mean + 0.01 * torch.randn(2, 5, 16, 8, 8), torch.randint(0, 9, (2, 4))
    with torch.no_grad():
        for got, raw in zip(standardized.reward_window_inputs(states, actions), plain.reward_window_inputs(states, actions)):
            torch.testing.assert_close(got, (raw - plain.latent_mean) / 0.01 if got.is_floating_point() else raw)
        step = standardized.reward_step_inputs(states[:, :4], actions, states[:, 4])
        raw_step = plain.reward_step_inputs(states[:, :4], actions, states[:, 4])
        torch.testing.assert_close(step[2], (raw_step[2] - plain.latent_mean) / 0.01)
        assert 0.5 < step[0].std() < 2  # the states' spread around the running mean, at unit scale
    with pytest.raises(ValueError, match="set latent_norm"):
        JEDIConfig(num_actions=9, reward_reads_standardized=True)
