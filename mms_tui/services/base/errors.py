"""Domain errors: each carries one sentence a cashier understands, already in the user's language."""

from __future__ import annotations

from mms_tui.i18n import _


class DomainError(Exception):
    """Base of every refusal the desk, the CLI and the tests can expect."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    code = "invalid_input"


class LinesRejected(InvalidInput):
    """Bad lines of a file or a batch, each named ('line 3: …'), and what came of it ('Nothing was posted.'): the
    message joins the first twenty; :attr:`problems` keeps them all, one a line for a screen to list."""

    SHOWN = 20

    def __init__(self, problems: list[str], outcome: str) -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:self.SHOWN]) + (" …" if len(self.problems) > self.SHOWN else "")
        super().__init__(_("{problems}. {outcome}").format(problems=shown, outcome=outcome))


class NotFound(DomainError):
    code = "not_found"


class UnknownCard(NotFound):
    code = "unknown_card"


class UnknownMember(NotFound):
    code = "unknown_member"


class UnknownItem(NotFound):
    code = "unknown_item"


class DuplicatePhone(DomainError):
    code = "duplicate_phone"


class DuplicateCardNo(DomainError):
    code = "duplicate_card_no"


class AmbiguousCard(DomainError):
    """A read carries fewer bits than the tags it could be, and fits more than one card."""

    code = "ambiguous_card"


class InsufficientBalance(DomainError):
    code = "insufficient_balance"


class CardNotUsable(DomainError):
    """The card exists but cannot be used now; subclasses say why."""

    code = "card_not_usable"


class CardFrozen(CardNotUsable):
    code = "card_frozen"


class CardLost(CardNotUsable):
    code = "card_lost"


class CardExpired(CardNotUsable):
    code = "card_expired"


class CardCancelled(CardNotUsable):
    code = "card_cancelled"


class CardElsewhere(CardNotUsable):
    """A store-bound card swiped at a store it is not used at."""

    code = "card_elsewhere"


class WrongCardKind(DomainError):
    code = "wrong_card_kind"


class TxidConflict(DomainError):
    """The same txid arrived with different content: never guess which one was meant."""

    code = "txid_conflict"


class AlreadyDone(DomainError):
    """A retry of an operation done long ago whose stored result is no longer kept: it was done, once, and is not
    done again; what it answered then cannot be given back."""

    code = "already_done"


class DamagedRecord(DomainError, ValueError):
    """A stored record that no longer reads (a damaged disk, a hand-edited row): refused in one sentence, nothing
    changed. A ValueError too, so the readers that pass over unreadable rows (``mms check``'s partial refunds, the
    card holder's promotions) still do."""

    code = "damaged_record"


class NotRefundable(DomainError):
    code = "not_refundable"


class AlreadyReversed(NotRefundable):
    code = "already_reversed"


class WrongPin(DomainError):
    """A wrong code or PIN; ``seconds``: how long the next try of this staff code is refused (0: at once)."""

    code = "wrong_pin"

    def __init__(self, message: str, seconds: int = 0) -> None:
        super().__init__(message)
        self.seconds = seconds


class PinWait(DomainError):
    """Too soon after a wrong PIN: the next try is refused, unchecked, for ``seconds`` more."""

    code = "pin_wait"

    def __init__(self, message: str, seconds: int) -> None:
        super().__init__(message)
        self.seconds = seconds


class AccountLocked(PinWait):
    """Too many wrong PINs in a row: the account takes no PIN for ``seconds`` more (or until a manager unlocks it)."""

    code = "account_locked"


class PinChangeRequired(DomainError):
    """The PIN was right but a manager reset it: its owner must set a new one before the login finishes."""

    code = "pin_change_required"


class RepeatCheckIn(DomainError):
    """The card was checked in a moment ago: a second check-in must be asked for on purpose."""

    code = "repeat_check_in"

    def __init__(self, message: str, last_at: str) -> None:
        super().__init__(message)
        self.last_at = last_at


class PermissionDenied(DomainError):
    code = "permission_denied"


class SchemaMissing(DomainError):
    code = "schema_missing"


class RulesInvalid(InvalidInput):
    """A loyalty-rules document with problems: all of them, each naming its place (``promotions[2].percent: …``)."""

    code = "rules_invalid"

    def __init__(self, errors: list[str]) -> None:
        from mms_tui.i18n import _

        self.errors = list(errors)
        if len(self.errors) == 1:
            message = self.errors[0]
        else:
            message = _("{n} problems in the rules; the first: {first}").format(n=len(self.errors),
                                                                                first=self.errors[0])
        super().__init__(message)


class InsufficientStock(DomainError):
    """A sale, a transfer or a return would take a product below zero where the store refuses it."""

    code = "insufficient_stock"
