"""Operating the bot: the HTTP listener (/metrics, /healthz, /readyz), its metrics and checks."""
