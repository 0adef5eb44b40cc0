"""StrEnums shared by models and schemas."""

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    viewer = "viewer"
    integration = "integration"


class ChargePointRole(StrEnum):
    controller = "controller"
    extender = "extender"


class PlugType(StrEnum):
    type2 = "type2"
    type1 = "type1"
    ccs2 = "ccs2"
    ccs1 = "ccs1"
    chademo = "chademo"
    schuko = "schuko"
    nacs = "nacs"


class AuditAction(StrEnum):
    """`entity.verb`: what a history entry records."""

    api_key_created = "api_key.created"
    api_key_revoked = "api_key.revoked"
    charging_group_created = "charging_group.created"
    charging_group_updated = "charging_group.updated"
    charging_group_deleted = "charging_group.deleted"
    charge_point_created = "charge_point.created"
    charge_point_updated = "charge_point.updated"
    charge_point_deleted = "charge_point.deleted"
    connector_created = "connector.created"
    connector_updated = "connector.updated"
    connector_deleted = "connector.deleted"


class EntityType(StrEnum):
    api_key = "api_key"
    charging_group = "charging_group"
    charge_point = "charge_point"
    connector = "connector"
