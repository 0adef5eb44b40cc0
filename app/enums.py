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


class UserGroupType(StrEnum):
    cards_only = "cards_only"


class UserGroupStatus(StrEnum):
    active = "active"
    archived = "archived"


class ActivationScope(StrEnum):
    all = "all"
    custom = "custom"


class QuotaPeriod(StrEnum):
    """A calendar period in the organization's time zone (weeks start on Monday)."""

    day = "day"
    week = "week"
    month = "month"


class Weekday(StrEnum):
    monday = "monday"
    tuesday = "tuesday"
    wednesday = "wednesday"
    thursday = "thursday"
    friday = "friday"
    saturday = "saturday"
    sunday = "sunday"


class RuleVerdict(StrEnum):
    passed = "passed"
    failed = "failed"
    not_set = "not_set"


class SessionStatus(StrEnum):
    active = "active"
    completed = "completed"


class AuthorizationStatus(StrEnum):
    """OCPP 2.0.1 AuthorizationStatusEnumType (the values this service answers with)."""

    accepted = "Accepted"
    blocked = "Blocked"
    expired = "Expired"
    invalid = "Invalid"
    not_at_this_location = "NotAtThisLocation"
    not_at_this_time = "NotAtThisTime"
    not_allowed_type_evse = "NotAllowedTypeEVSE"
    concurrent_tx = "ConcurrentTx"
    no_credit = "NoCredit"
    unknown = "Unknown"


class Ocpp16AuthorizationStatus(StrEnum):
    """OCPP 1.6 AuthorizationStatus (the values this service answers with)."""

    accepted = "Accepted"
    blocked = "Blocked"
    expired = "Expired"
    invalid = "Invalid"
    concurrent_tx = "ConcurrentTx"


class AuthorizationReason(StrEnum):
    """Why an authorization decision is what it is; each reason has one status (README table)."""

    accepted = "accepted"
    free_charging = "free_charging"
    unknown_card = "unknown_card"
    card_blocked = "card_blocked"
    card_not_yet_valid = "card_not_yet_valid"
    card_expired = "card_expired"
    group_archived = "group_archived"
    not_at_this_location = "not_at_this_location"
    card_learned = "card_learned"
    group_not_yet_valid = "group_not_yet_valid"
    group_expired = "group_expired"
    card_expired_after_first_use = "card_expired_after_first_use"
    not_at_this_time = "not_at_this_time"
    connector_not_allowed = "connector_not_allowed"
    concurrent_sessions = "concurrent_sessions"
    card_quota_used_up = "card_quota_used_up"
    group_quota_used_up = "group_quota_used_up"


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
    user_group_created = "user_group.created"
    user_group_renamed = "user_group.renamed"
    user_group_archived = "user_group.archived"
    user_group_restored = "user_group.restored"
    user_group_deleted = "user_group.deleted"
    tariff_set = "tariff.set"
    tariff_removed = "tariff.removed"
    tariff_scheduled = "tariff.scheduled"
    tariff_cancelled = "tariff.cancelled"
    rules_set = "user_group_rules.set"
    rules_removed = "user_group_rules.removed"
    activation_replaced = "activation.replaced"
    activation_added = "activation.added"
    activation_removed = "activation.removed"
    card_added = "card.added"
    cards_bulk_added = "cards.bulk_added"
    card_updated = "card.updated"
    card_moved_out = "card.moved_out"
    card_moved_in = "card.moved_in"
    card_removed = "card.removed"
    cards_bulk_blocked = "cards.bulk_blocked"
    cards_bulk_unblocked = "cards.bulk_unblocked"
    cards_bulk_validity_set = "cards.bulk_validity_set"
    cards_bulk_validity_cleared = "cards.bulk_validity_cleared"
    cards_bulk_moved_out = "cards.bulk_moved_out"
    cards_bulk_moved_in = "cards.bulk_moved_in"
    cards_bulk_removed = "cards.bulk_removed"
    organization_updated = "organization.updated"
    session_started = "session.started"
    session_stopped = "session.stopped"
    webhook_endpoint_created = "webhook_endpoint.created"
    webhook_endpoint_updated = "webhook_endpoint.updated"
    webhook_endpoint_deleted = "webhook_endpoint.deleted"
    webhook_endpoint_disabled = "webhook_endpoint.disabled"
    webhook_delivery_requeued = "webhook_endpoint.redelivery_requested"
    learning_mode_started = "learning_mode.started"
    learning_mode_stopped = "learning_mode.stopped"
    card_learned = "card.learned"


class EntityType(StrEnum):
    organization = "organization"
    api_key = "api_key"
    charging_group = "charging_group"
    charge_point = "charge_point"
    connector = "connector"
    user_group = "user_group"
    tariff = "tariff"
    user_group_rules = "user_group_rules"
    card = "card"
    session = "session"
    webhook_endpoint = "webhook_endpoint"


class DeliveryStatus(StrEnum):
    """A webhook delivery: waiting (first try or a retry), delivered, or given up."""

    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class CardAction(StrEnum):
    """What a bulk card action does to every card it names."""

    block = "block"
    unblock = "unblock"
    set_validity = "set_validity"
    clear_validity = "clear_validity"
    move = "move"
    remove = "remove"


class ReportDimension(StrEnum):
    user_group = "user_group"
    charging_group = "charging_group"
    card = "card"


class ReportPeriod(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class LocalListUpdateType(StrEnum):
    """OCPP UpdateEnumType (1.6 UpdateType): the list replaces the charger's, or changes it."""

    full = "Full"
    differential = "Differential"


class LocalListFormat(StrEnum):
    ocpp16 = "ocpp16"
    ocpp201 = "ocpp201"
