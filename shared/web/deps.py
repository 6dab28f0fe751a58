"""FastAPI dependencies onto the running service (``Annotated`` aliases, as in the FastAPI template)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus.unit_of_work import UnitOfWorkFactory

if TYPE_CHECKING:
    from shared.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).sessions() as session:
        yield session


def get_units(request: Request) -> UnitOfWorkFactory:
    return get_runtime(request).units


RuntimeDep = Annotated["Runtime", Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
UnitsDep = Annotated[UnitOfWorkFactory, Depends(get_units)]
