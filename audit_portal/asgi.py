"""The ASGI application uvicorn serves: built from the environment's settings."""

from audit_portal.app import create_app

app = create_app()
