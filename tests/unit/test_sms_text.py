"""The SMS text policy: accents removed into GSM 03.38 or full Unicode, and parts counted as operators do."""

from __future__ import annotations

import math
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.sms_text import GSM, GSM_EXTENSION, SmsEncoding, SmsText, prepare_sms, strip_accents

# Every Vietnamese vowel with every tone (none, huyền, sắc, hỏi, ngã, nặng), grouped by the letter it becomes.
VIETNAMESE_LOWER = {
    "a": "aàáảãạăằắẳẵặâầấẩẫậ",
    "e": "eèéẻẽẹêềếểễệ",
    "i": "iìíỉĩị",
    "o": "oòóỏõọôồốổỗộơờớởỡợ",
    "u": "uùúủũụưừứửữự",
    "y": "yỳýỷỹỵ",
    "d": "dđ",
}


def test_a_vietnamese_sentence_loses_its_accents() -> None:
    assert strip_accents("Hồ sơ đã được tiếp nhận") == "Ho so da duoc tiep nhan"
    assert strip_accents("ĐĂNG KÝ BIẾN ĐỘNG QUYỀN SỬ DỤNG ĐẤT") == "DANG KY BIEN DONG QUYEN SU DUNG DAT"
    assert strip_accents("Nguyễn Thị Phương Thảo, Ưng Hoàng Phúc") == "Nguyen Thi Phuong Thao, Ung Hoang Phuc"


@pytest.mark.parametrize("plain", sorted(VIETNAMESE_LOWER))
def test_every_vowel_with_every_tone_becomes_its_plain_letter(plain: str) -> None:
    letters = VIETNAMESE_LOWER[plain]
    assert strip_accents(letters) == plain * len(letters)
    assert strip_accents(letters.upper()) == plain.upper() * len(letters)
    assert strip_accents(unicodedata.normalize("NFD", letters)) == plain * len(letters)


def test_the_alphabet_table_is_complete() -> None:
    """12 vowels (a ă â e ê i o ô ơ u ư y) x 6 tones, plus d and đ: nothing missing, nothing twice."""
    letters = "".join(VIETNAMESE_LOWER.values())
    assert len(set(letters)) == len(letters) == 12 * 6 + 2
    assert all(unicodedata.is_normalized("NFC", c) for c in letters + letters.upper())


def test_typographic_punctuation_is_mapped_and_other_characters_become_question_marks() -> None:
    assert strip_accents("8:00 – 17:00 — “Một cửa” ‘x’ …\u00a0end") == "8:00 - 17:00 - \"Mot cua\" 'x' ... end"
    assert strip_accents("tab\there") == "tab here"
    assert strip_accents("😀 한 中 ≤") == "? ? ? ?"
    assert strip_accents("zero\u200bwidth") == "zerowidth"


def test_gsm_characters_outside_ascii_are_kept_and_extension_characters_too() -> None:
    assert strip_accents("@£$¥_!¿¡§ÆØΔ") == "@£$¥_!¿¡§ÆØΔ"
    assert strip_accents("€[]{}|~^\\") == "€[]{}|~^\\"


def test_accents_of_gsm_letters_are_removed_as_well() -> None:
    """One rule for every combining mark: é is in GSM, but the policy removes accents."""
    assert strip_accents("café Ñandú") == "cafe Nandu"


@pytest.mark.parametrize(
    ("length", "units", "parts"),
    [(1, 1, 1), (70, 70, 1), (71, 71, 2), (134, 134, 2), (135, 135, 3), (201, 201, 3), (202, 202, 4)],
)
def test_unicode_boundaries(length: int, units: int, parts: int) -> None:
    sms = prepare_sms("ệ" * length, SmsEncoding.UNICODE)
    assert (sms.units, sms.parts, sms.encoding) == (units, parts, SmsEncoding.UNICODE)
    assert sms.text == "ệ" * length


@pytest.mark.parametrize(("length", "parts"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_gsm_boundaries(length: int, parts: int) -> None:
    sms = prepare_sms("ệ" * length, SmsEncoding.ASCII)
    assert (sms.text, sms.units, sms.parts, sms.encoding) == ("e" * length, length, parts, SmsEncoding.ASCII)


def test_extension_characters_count_two_septets() -> None:
    assert prepare_sms("€" * 80, SmsEncoding.ASCII) == SmsText("€" * 80, SmsEncoding.ASCII, 160, 1)
    assert prepare_sms("€" * 80 + "a", SmsEncoding.ASCII).parts == 2
    assert prepare_sms("[x]", SmsEncoding.ASCII).units == 5


def test_an_escape_pair_is_never_split_across_parts() -> None:
    """306 septets would be two parts by division; the euro cannot straddle the boundary, so three."""
    text = "a" * 152 + "€" + "a" * 152
    sms = prepare_sms(text, SmsEncoding.ASCII)
    assert sms.units == 306 == 2 * 153
    assert sms.parts == 3
    assert prepare_sms("a" * 151 + "€" + "a" * 153, SmsEncoding.ASCII).parts == 2


def test_an_emoji_counts_two_units_and_its_surrogate_pair_is_not_split() -> None:
    assert prepare_sms("😀", SmsEncoding.UNICODE).units == 2
    assert prepare_sms("a" * 68 + "😀", SmsEncoding.UNICODE).parts == 1
    assert prepare_sms("a" * 69 + "😀", SmsEncoding.UNICODE).parts == 2
    assert prepare_sms("a" * 66 + "😀" + "a" * 66, SmsEncoding.UNICODE).parts == 3
    assert prepare_sms("a" * 65 + "😀" + "a" * 67, SmsEncoding.UNICODE).parts == 2
    assert prepare_sms("😀", SmsEncoding.ASCII) == SmsText("?", SmsEncoding.ASCII, 1, 1)


def test_unicode_text_is_sent_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "Hồ sơ đã được tiếp nhận")
    sms = prepare_sms(decomposed, SmsEncoding.UNICODE)
    assert sms.text == "Hồ sơ đã được tiếp nhận"
    assert sms.units == 23


def test_an_empty_sms_is_refused() -> None:
    with pytest.raises(ValueError, match="needs some text"):
        prepare_sms("", SmsEncoding.UNICODE)
    with pytest.raises(ValueError, match="needs some text"):
        prepare_sms("\u0301\u200b", SmsEncoding.ASCII)


def test_the_policy_may_be_given_by_its_value() -> None:
    assert prepare_sms("Đà Lạt", "ascii") == SmsText("Da Lat", SmsEncoding.ASCII, 6, 1)  # type: ignore[arg-type]


_vietnamese = "".join(VIETNAMESE_LOWER.values())
_texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(_vietnamese + _vietnamese.upper() + "–—“”‘’…\u00a0€[]{}|~^\\ \n"),
        st.characters(codec="utf-8"),
    ),
    max_size=400,
)


@given(_texts)
def test_stripped_text_is_always_pure_gsm_and_stripping_twice_changes_nothing(text: str) -> None:
    stripped = strip_accents(text)
    assert set(stripped) <= GSM
    assert strip_accents(stripped) == stripped


@given(_texts.filter(lambda t: strip_accents(t) != ""), st.sampled_from(list(SmsEncoding)))
def test_parts_grow_with_the_text_and_bound_its_units(text: str, policy: SmsEncoding) -> None:
    sent = prepare_sms(text, policy)
    single, per_part = (70, 67) if policy is SmsEncoding.UNICODE else (160, 153)
    if sent.units <= single:
        assert sent.parts == 1
    else:
        assert math.ceil(sent.units / per_part) <= sent.parts <= math.ceil(sent.units / (per_part - 1))
    previous = 0
    for end in range(1, len(sent.text) + 1):
        parts = prepare_sms(sent.text[:end], policy).parts
        assert parts >= previous
        previous = parts
    assert previous == sent.parts


@given(st.text(alphabet=st.sampled_from(sorted(GSM)), min_size=1, max_size=500))
def test_gsm_units_are_one_per_basic_character_and_two_per_extension_character(text: str) -> None:
    sms = prepare_sms(text, SmsEncoding.ASCII)
    assert len(sms.text) == len(text)  # accented GSM letters (é, Ñ…) lose the accent, one for one
    assert sms.units == len(text) + sum(1 for c in text if c in GSM_EXTENSION)
