"""PPO training on batched MettaGrid simulations."""
