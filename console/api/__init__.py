"""The HTTP API: one more thin client of the orchestrator's public API.

`app.create_app` builds the FastAPI application around a started Orchestrator;
`serve` runs it with uvicorn; `commands` adds `syncdeck serve` and `syncdeck
token` to the command line. Importing this package imports no web framework:
`console.cli` imports `console.api.commands`, and only `serve` (FastAPI,
uvicorn) and `token` (pyjwt) load their libraries, inside the command.
"""
