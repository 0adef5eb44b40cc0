"""The OCPP local authorization list of a charging group, as SendLocalList bodies of OCPP 1.6 and
2.0.1. Field names inside `ocpp16` / `ocpp201` are OCPP's own (camelCase), so an integration
forwards the object to the charger as it is."""

import uuid
from datetime import datetime

from pydantic import Field

from app.enums import AuthorizationStatus, LocalListFormat, LocalListUpdateType, Ocpp16AuthorizationStatus
from app.schemas.common import Schema


class IdTagInfo(Schema):
    """OCPP 1.6 IdTagInfo."""

    status: Ocpp16AuthorizationStatus
    expiryDate: datetime | None = Field(
        default=None, description="The card's `valid_until`; absent when the card has no end"
    )


class AuthorizationData16(Schema):
    """OCPP 1.6 AuthorizationData; without `idTagInfo` in a differential: remove the id tag."""

    idTag: str
    idTagInfo: IdTagInfo | None = None


class SendLocalList16(Schema):
    """OCPP 1.6 SendLocalList.req."""

    listVersion: int
    updateType: LocalListUpdateType
    localAuthorizationList: list[AuthorizationData16]


class IdToken(Schema):
    """OCPP 2.0.1 IdTokenType; cards are RFID cards read by UID: type ISO14443."""

    idToken: str
    type: str = "ISO14443"


class IdTokenInfo(Schema):
    """OCPP 2.0.1 IdTokenInfoType."""

    status: AuthorizationStatus
    cacheExpiryDateTime: datetime | None = Field(
        default=None, description="The card's `valid_until`; absent when the card has no end"
    )


class AuthorizationData201(Schema):
    """OCPP 2.0.1 AuthorizationData; without `idTokenInfo` in a differential: remove the token."""

    idToken: IdToken
    idTokenInfo: IdTokenInfo | None = None


class SendLocalList201(Schema):
    """OCPP 2.0.1 SendLocalListRequest."""

    versionNumber: int
    updateType: LocalListUpdateType
    localAuthorizationList: list[AuthorizationData201]


class LocalListRead(Schema):
    charging_group_id: uuid.UUID
    access_control: bool = Field(
        description="false: free charging, anyone charges here; the list is empty and the charger "
        "needs no authorization"
    )
    format: LocalListFormat
    list_version: int = Field(description="The list's version once this update is applied")
    update_type: LocalListUpdateType
    since_version: int | None = Field(
        default=None, description="The `since_version` asked for; absent for a full list"
    )
    entry_count: int
    left_out_id_tags: list[str] = Field(
        default_factory=list,
        description="Id tags on the list that the format cannot carry (OCPP 1.6 idTag holds at "
        "most 20 characters); a 1.6 charger cannot read such a card either",
    )
    ocpp16: SendLocalList16 | None = Field(default=None, description="With format=ocpp16")
    ocpp201: SendLocalList201 | None = Field(default=None, description="With format=ocpp201")
