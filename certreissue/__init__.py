"""The application: settings, wiring (bootstrap), the HTTP app and the CLI."""
