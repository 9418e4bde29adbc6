"""What both API clients share: settings, credentials, tokens, transports, retries, errors."""
