"""archbench: a benchmark of policy architectures on MettaGrid."""
