"""Auth request and response schemas."""
import marshmallow as ma
from marshmallow import validate

from evently.http import Schema

# argon2 has no 72-byte limit, but an unbounded password is a CPU-exhaustion vector.
PASSWORD = dict(required=True, validate=validate.Length(min=8, max=128), load_only=True)


class RegisterSchema(Schema):
    email = ma.fields.Email(required=True, validate=validate.Length(max=254))
    password = ma.fields.String(**PASSWORD)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))

    @ma.pre_load
    def strip_surrounding_spaces(self, data, **_kwargs):
        """A pasted or autofilled address often ends in a space, and login strips it: so
        does register, instead of calling the address invalid. A name of only spaces is
        then empty, and refused, instead of being stored as ''."""
        if isinstance(data, dict):
            data = {key: value.strip() if key in ("email", "name") and isinstance(value, str) else value
                    for key, value in data.items()}
        return data


class LoginSchema(Schema):
    email = ma.fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = ma.fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)


class UserSchema(Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.String()
    created_at = ma.fields.AwareDateTime(format="iso")


class AuthResultSchema(Schema):
    user = ma.fields.Nested(UserSchema)
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()


class AccessTokenSchema(Schema):
    access_token = ma.fields.String()


class UserDataSchema(Schema):
    user = ma.fields.Nested(UserSchema)
