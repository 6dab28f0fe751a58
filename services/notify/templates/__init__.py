"""Notification templates as versioned data (``data/<key>.yaml``), checked at load and rendered per channel."""

from services.notify.templates.catalog import Rendered, TemplateCatalog, TemplateDataError, TemplateError

__all__ = ["Rendered", "TemplateCatalog", "TemplateDataError", "TemplateError"]
