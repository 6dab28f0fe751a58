"""The catalogue as data: units in each map of local government, and procedures. See docs/catalog.md."""

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

__all__ = [
    "ENV_VAR",
    "SAMPLE_DIR",
    "SECTOR_LEVELS",
    "TERRITORIAL_LEVELS",
    "Catalog",
    "CatalogError",
    "Document",
    "Fee",
    "OnlineLevel",
    "PostalService",
    "Problem",
    "Procedure",
    "ProcedureKind",
    "ResultDelivery",
    "StatutoryTime",
    "TimeUnit",
    "Unit",
    "UnitLevel",
    "UnitMap",
    "Validity",
    "default_catalog_dir",
    "load_catalog",
]
