"""Product service: the catalogue and its stock."""
