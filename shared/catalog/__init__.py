"""The catalogue as data: units in each map of local government, procedures, and the routes of
interconnected procedures. See docs/catalog.md."""

from shared.catalog.catalog import Catalog
from shared.catalog.errors import CatalogError, Problem
from shared.catalog.loader import ENV_VAR, SAMPLE_DIR, default_catalog_dir, load_catalog
from shared.catalog.models import (
    SECTOR_LEVELS,
    TERRITORIAL_LEVELS,
    Document,
    Fee,
    OnlineLevel,
    PostalService,
    Procedure,
    ProcedureKind,
    ResultDelivery,
    StatutoryTime,
    TimeUnit,
    Unit,
    UnitLevel,
    UnitMap,
    Validity,
)
from shared.catalog.routes import Budget, BudgetUnit, ExternalSystem, Route, RouteFile, Step, UnitType

__all__ = [
    "ENV_VAR",
    "SAMPLE_DIR",
    "SECTOR_LEVELS",
    "TERRITORIAL_LEVELS",
    "Budget",
    "BudgetUnit",
    "Catalog",
    "CatalogError",
    "Document",
    "ExternalSystem",
    "Fee",
    "OnlineLevel",
    "PostalService",
    "Problem",
    "Procedure",
    "ProcedureKind",
    "ResultDelivery",
    "Route",
    "RouteFile",
    "StatutoryTime",
    "Step",
    "TimeUnit",
    "Unit",
    "UnitLevel",
    "UnitMap",
    "UnitType",
    "Validity",
    "default_catalog_dir",
    "load_catalog",
]
