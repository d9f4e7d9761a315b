"""Endpoints of the REST shim that do not forward to gRPC (/metrics) check the bearer token
themselves, with the same authenticator and the same error shape as the gRPC server."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from domain.errors import DomainError
from server.auth import Authenticator
from server.errors import domain_error_status
from server.rest.errors import auth_challenge, status_body
from server.rest.forward import Endpoint


def client_address(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "-"


def requires_scope(authenticator: Authenticator, scope: str, endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        try:
            await authenticator.authenticate(
                request.headers.get("authorization"), scope, origin=client_address(request)
            )
        except DomainError as error:
            http, body = status_body(domain_error_status(error))
            return JSONResponse(body, status_code=http, headers=auth_challenge(http, body))
        return await endpoint(request)

    return guarded
