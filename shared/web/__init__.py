"""What every service's HTTP API shares: problem details, API keys, health, metrics."""
