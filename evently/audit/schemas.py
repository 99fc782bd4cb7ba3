"""Audit log response schemas."""
import marshmallow as ma

from evently.common.fields import UtcDateTime
from evently.http import PageQuerySchema, Schema


class AuditQuerySchema(PageQuerySchema):
    pass


class AuditEntrySchema(Schema):
    id = ma.fields.Integer()
    actor_id = ma.fields.Integer(allow_none=True)
    actor_name = ma.fields.String(allow_none=True)
    action = ma.fields.String(metadata={"example": "waitlist.move"})
    subject_type = ma.fields.String(metadata={"description": "event | booking | waitlist_entry"})
    subject_id = ma.fields.Integer(allow_none=True)
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    created_at = UtcDateTime()
