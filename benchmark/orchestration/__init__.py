"""Turning a benchmark grid into jobs, running them under a cap, and recording every state change."""
