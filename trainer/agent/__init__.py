"""The agent's training: imagined rollouts, lambda-returns, the actor-critic loss and the whole training loop."""
