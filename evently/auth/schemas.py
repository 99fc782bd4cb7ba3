"""Auth request and response schemas."""
import marshmallow as ma
from marshmallow import validate

from evently.common.fields import UtcDateTime, not_blank
from evently.http import Schema

# argon2 has no 72-byte limit, but an unbounded password is a CPU-exhaustion vector.
PASSWORD = dict(required=True, validate=validate.Length(min=8, max=128), load_only=True)
# What a login or a reset request may name: any text, so a malformed address is refused like an unknown one.
ADDRESS = dict(required=True, validate=validate.Length(min=1, max=254))
# Swagger UI's "Try it out" starts from these: one account, the same in every request.
EMAIL_EXAMPLE = {"example": "ada@example.com"}
PASSWORD_EXAMPLE = {"example": "correct horse battery"}


def ascii_address(value):
    """Mail to a non-ASCII address needs SMTPUTF8 on every relay on its way, which Evently cannot
    know at registration; refused here instead of failing at every notification."""
    if not value.isascii():
        raise ma.ValidationError("Use an address written in ASCII characters: mail cannot be delivered to "
                                 "others. Give an internationalised domain in its xn-- form.")


class RegisterSchema(Schema):
    email = ma.fields.Email(required=True, validate=[validate.Length(max=254), ascii_address], metadata=EMAIL_EXAMPLE)
    password = ma.fields.String(**PASSWORD, metadata=PASSWORD_EXAMPLE)
    name = ma.fields.String(required=True, validate=[validate.Length(min=1, max=120), not_blank],
                            metadata={"example": "Ada Lovelace"})

    @ma.pre_load
    def strip_email(self, data, **_kwargs):
        """A pasted or autofilled address often ends in a space, and login strips it: so
        does register, instead of calling the address invalid."""
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip()}
        return data


class LoginSchema(Schema):
    email = ma.fields.String(**ADDRESS, metadata=EMAIL_EXAMPLE)
    password = ma.fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True,
                                metadata=PASSWORD_EXAMPLE)


class PasswordChangeSchema(Schema):
    current_password = ma.fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True,
                                        metadata=PASSWORD_EXAMPLE)
    new_password = ma.fields.String(**PASSWORD, metadata={"example": "staple battery horse 42"})


class PasswordResetRequestSchema(Schema):
    email = ma.fields.String(**ADDRESS, metadata=EMAIL_EXAMPLE)


class PasswordResetConfirmSchema(Schema):
    token = ma.fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True,
                             metadata={"description": "The token from the reset mail.",
                                       "example": "Q2hhbmdlIG1lOiB0aGUgdG9rZW4gZnJvbSB0aGUgbWFpbA"})
    password = ma.fields.String(**PASSWORD, metadata={"example": "staple battery horse 42"})


class UserSchema(Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.String()
    created_at = UtcDateTime()


class AuthResultSchema(Schema):
    user = ma.fields.Nested(UserSchema)
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()


class TokenPairSchema(Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()


class SessionsEndedSchema(Schema):
    ended_sessions = ma.fields.Integer(metadata={"description": "How many sessions this request ended."})


class NoDataSchema(Schema):
    pass


class UserDataSchema(Schema):
    user = ma.fields.Nested(UserSchema)
