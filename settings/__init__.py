"""Configuration, below every other package: one TOML file plus environment overrides, and the
secrets from the environment only (`settings.config`)."""
