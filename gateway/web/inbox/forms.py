"""The inbox's forms (Flask-WTF): validation and the CSRF token on every one.

Error messages are looked up in the operator's language when shown, not when the
class is defined, hence `Lazy`.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError

from gateway.web.inbox.i18n import translate
from gateway.web.inbox.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_problem

#: Longest reply or note (the ticket service refuses longer ones too).
MAX_TEXT = 4096


class Lazy:
    """A text key translated when rendered, in whatever language the page is in."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __str__(self) -> str:
        return translate(self.key)

    def __mod__(self, params: Any) -> str:
        return translate(self.key, **(params if isinstance(params, dict) else {}))

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


REQUIRED = Lazy("form.required")
#: Enough to catch typos; the address is proven by the operator logging in with it, not by a regex.
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=Lazy("form.email"))


class PasswordRules:
    """The password rule of gateway.web.inbox.passwords (the command line applies it too), for the form."""

    def __call__(self, form: Any, field: Any) -> None:
        problem = password_problem(field.data or "")
        if problem == "too_short":
            raise ValidationError(translate("form.password", min=MIN_PASSWORD_LENGTH))
        if problem == "too_long":
            raise ValidationError(translate("form.too_long", max=MAX_PASSWORD_LENGTH))


class LoginForm(FlaskForm):
    email = EmailField(validators=[DataRequired(REQUIRED), EMAIL, Length(max=255)])
    password = PasswordField(validators=[DataRequired(REQUIRED), Length(max=512)])


class ReplyForm(FlaskForm):
    text = TextAreaField(
        validators=[DataRequired(REQUIRED), Length(max=MAX_TEXT, message=Lazy("form.too_long"))]
    )


class NoteForm(FlaskForm):
    text = TextAreaField(
        validators=[DataRequired(REQUIRED), Length(max=MAX_TEXT, message=Lazy("form.too_long"))]
    )


class ActionForm(FlaskForm):
    """One form for every lifecycle action; the ticket service says which arguments each needs."""

    action = HiddenField(validators=[DataRequired(REQUIRED)])
    note = TextAreaField(validators=[Optional(), Length(max=MAX_TEXT, message=Lazy("form.too_long"))])
    agency = SelectField(validators=[Optional()], validate_choice=False)
    reason = SelectField(validators=[Optional()], validate_choice=False)
    duplicate_of = StringField(validators=[Optional(), Length(max=16)])


class AssignForm(FlaskForm):
    operator_id = SelectField(validate_choice=True, coerce=str)


class CategoryForm(FlaskForm):
    category = SelectField(validators=[DataRequired(REQUIRED)])


class PrivacyForm(FlaskForm):
    privacy = SelectField(validators=[DataRequired(REQUIRED)])
    citizen_consent = BooleanField()


class WalkInForm(FlaskForm):
    """A complaint made at the front desk or by phone, filed by the operator for the citizen."""

    name = StringField(validators=[Optional(), Length(max=120)])
    phone = StringField(validators=[Optional(), Length(max=32)])
    updates = SelectField(validators=[DataRequired(REQUIRED)])
    consent = BooleanField()
    description = TextAreaField(
        validators=[
            DataRequired(REQUIRED),
            Length(min=10, max=MAX_TEXT, message=Lazy("form.description_length")),
        ]
    )
    location = StringField(validators=[Optional(), Length(max=500)])
    category = SelectField(validators=[DataRequired(REQUIRED)])
    privacy = SelectField(validators=[DataRequired(REQUIRED)])
    language = SelectField(choices=[("id", "Bahasa Indonesia"), ("en", "English")])

    def validate_phone(self, field: StringField) -> None:
        from adapters.common import normalize_phone

        if self.updates.data and self.updates.data != "none":
            if not field.data:
                raise ValidationError(str(Lazy("walkin.phone_needed")))
            if normalize_phone(field.data) is None:
                raise ValidationError(str(Lazy("walkin.phone_invalid")))
        elif field.data and normalize_phone(field.data) is None:
            raise ValidationError(str(Lazy("walkin.phone_invalid")))

    def validate_consent(self, field: BooleanField) -> None:
        if self.updates.data and self.updates.data != "none" and not field.data:
            raise ValidationError(str(Lazy("walkin.consent_needed")))


class OperatorForm(FlaskForm):
    email = EmailField(validators=[DataRequired(REQUIRED), EMAIL, Length(max=255)])
    name = StringField(validators=[DataRequired(REQUIRED), Length(max=255)])
    password = PasswordField(validators=[DataRequired(REQUIRED), PasswordRules()])
    role = SelectField(choices=[("agency", "agency"), ("coordinator", "coordinator"), ("admin", "admin")])
    agency = SelectField()  # no Optional(): it would skip validate_agency when empty
    language = SelectField(choices=[("id", "Bahasa Indonesia"), ("en", "English")])

    def validate_agency(self, field: SelectField) -> None:
        if self.role.data == "agency" and not field.data:
            raise ValidationError(str(Lazy("admin.agency_needed")))


class CannedForm(FlaskForm):
    code = StringField(
        validators=[
            DataRequired(REQUIRED),
            Length(max=32),
            Regexp(r"^[a-z0-9_-]+$", message=Lazy("admin.code_format")),
        ]
    )
    title = StringField(validators=[DataRequired(REQUIRED), Length(max=255)])
    text = TextAreaField(
        validators=[DataRequired(REQUIRED), Length(max=MAX_TEXT, message=Lazy("form.too_long"))]
    )
    language = SelectField(choices=[("id", "Bahasa Indonesia"), ("en", "English")])


class AgencyForm(FlaskForm):
    name = StringField(validators=[DataRequired(REQUIRED), Length(max=255)])
    active = BooleanField()


class NewPasswordForm(FlaskForm):
    """A new password, typed twice: what an admin fills in for another operator."""

    new_password = PasswordField(validators=[DataRequired(REQUIRED), PasswordRules()])
    confirm = PasswordField(
        validators=[DataRequired(REQUIRED), EqualTo("new_password", message=Lazy("password.mismatch"))]
    )


class ChangePasswordForm(NewPasswordForm):
    """An operator changing their own password proves they know the current one first."""

    current_password = PasswordField(validators=[DataRequired(REQUIRED), Length(max=MAX_PASSWORD_LENGTH)])
