"""Many-episode evaluation of a checkpoint (or of the random baseline) on a level's simulations."""
