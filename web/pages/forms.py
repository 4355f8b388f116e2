"""Flask-WTF forms of the account pages; every one carries a CSRF token.

Validators here check the shape of input (required, lengths, the username
and email patterns, matching passwords) so that every such problem shows at
once; envelope/ still decides what is acceptable, and the view attaches its
messages to the field they concern.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from envelope.accounts.users import EMAIL, MAX_PASSWORD_LENGTH, USERNAME
from envelope.accounts.passwords import MIN_PASSWORD_LENGTH

_NEW_PASSWORD_HINT = (
    f"At least {MIN_PASSWORD_LENGTH} characters. A passphrase of a few words is easy to remember."
)

_USERNAME_RULE = "Use 1-64 letters, digits, '.', '_' or '-', starting and ending with a letter or digit."


def _strip(value: str | None) -> str | None:
    return value.strip() if value else value


def _new_password(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired("Choose a password."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=f"Passwords must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
            ),
        ],
        description=_NEW_PASSWORD_HINT,
        render_kw={"autocomplete": "new-password"},
    )


def _confirm(other: str, label: str = "Repeat the new password") -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired("Repeat the password."), EqualTo(other, "The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


def _current_password(label: str = "Current password") -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired("Enter your password."), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class SignupForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired("Choose a username."), Length(max=64), Regexp(USERNAME, message=_USERNAME_RULE)],
        filters=[_strip],
        description="Letters, digits, '.', '_' or '-'; used to sign in and shown to your teams.",
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    email = EmailField(
        "Email address",
        validators=[
            DataRequired("Enter your email address."),
            Length(max=254),
            Regexp(EMAIL, message="Enter an email address like name@example.com."),
        ],
        filters=[_strip],
        description="For password resets and invitations.",
        render_kw={"autocomplete": "email"},
    )
    password = _new_password("Password")
    confirm = _confirm("password", "Repeat the password")


class LoginForm(FlaskForm):
    login = StringField(
        "Username or email address",
        validators=[DataRequired("Enter your username or email address."), Length(max=254)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in on this device for 30 days")


class SecondFactorForm(FlaskForm):
    code = StringField(
        "Authentication code",
        validators=[DataRequired("Enter the code from your authenticator app."), Length(max=40)],
        description="The 6-digit code from your authenticator app, or one of your recovery codes.",
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"},
    )


class ConfirmTotpForm(FlaskForm):
    code = StringField(
        "Code from the app",
        validators=[DataRequired("Enter the 6-digit code the app shows."), Length(max=10)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class PasswordConfirmForm(FlaskForm):
    """Disable two-factor authentication, or replace the recovery codes."""

    password = _current_password("Your password")


class ChangePasswordForm(FlaskForm):
    current = _current_password()
    password = _new_password("New password")
    confirm = _confirm("password")


class ResetRequestForm(FlaskForm):
    email = EmailField(
        "Email address",
        validators=[DataRequired("Enter your email address."), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )


class ResetPasswordForm(FlaskForm):
    password = _new_password("New password")
    confirm = _confirm("password")


class SignupSettingForm(FlaskForm):
    signup_open = BooleanField(
        "Anyone who can reach this site may create an account",
        description="When off, only people with an invitation to an organization can sign up.",
    )
