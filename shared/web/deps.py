"""FastAPI dependencies onto the running service (``Annotated`` aliases, as in the FastAPI template)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus.unit_of_work import UnitOfWorkFactory

if TYPE_CHECKING:
    from shared.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# Every dependency is a coroutine, even one that awaits nothing: FastAPI runs a plain function in its thread
# pool, a hand-off to another thread (and back) on every request.
async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).sessions() as session:
        yield session


async def get_units(request: Request) -> UnitOfWorkFactory:
    return runtime_of(request).units


RuntimeDep = Annotated["Runtime", Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
UnitsDep = Annotated[UnitOfWorkFactory, Depends(get_units)]
