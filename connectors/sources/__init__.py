"""Built-in connectors (each module: a spec, a Connector with ``check()``, and streams)."""
