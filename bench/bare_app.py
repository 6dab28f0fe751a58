"""The ceiling intake is compared with: a bare FastAPI endpoint that validates the same request body
and answers 201, with no database, no broker and no middleware — on the same uvicorn settings."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.intake.schemas import DossierCreate

app = FastAPI()


@app.post("/v1/dossiers", status_code=201)
async def create(body: DossierCreate) -> JSONResponse:
    return JSONResponse({"code": "X-000000-0001", "procedure_code": body.procedure_code}, status_code=201)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
