"""The routes, one module per resource group; each is a thin call into the orchestrator."""
