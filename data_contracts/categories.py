"""The categories of the booking-record contract (``data_contracts.booking`` uses them): each field
of one of these types takes exactly one of its values, as a JSON string."""

from __future__ import annotations

from enum import StrEnum


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class FirstLanguage(StrEnum):
    FINNISH = "fi"
    SWEDISH = "sv"
    OTHER = "other"


class Region(StrEnum):
    """The 21 wellbeing services counties (hyvinvointialue) and the City of Helsinki."""

    HELSINKI = "helsinki"
    ITA_UUSIMAA = "ita-uusimaa"
    KESKI_UUSIMAA = "keski-uusimaa"
    LANSI_UUSIMAA = "lansi-uusimaa"
    VANTAA_KERAVA = "vantaa-kerava"
    VARSINAIS_SUOMI = "varsinais-suomi"
    SATAKUNTA = "satakunta"
    KANTA_HAME = "kanta-hame"
    PIRKANMAA = "pirkanmaa"
    PAIJAT_HAME = "paijat-hame"
    KYMENLAAKSO = "kymenlaakso"
    ETELA_KARJALA = "etela-karjala"
    ETELA_SAVO = "etela-savo"
    POHJOIS_SAVO = "pohjois-savo"
    POHJOIS_KARJALA = "pohjois-karjala"
    KESKI_SUOMI = "keski-suomi"
    ETELA_POHJANMAA = "etela-pohjanmaa"
    POHJANMAA = "pohjanmaa"
    KESKI_POHJANMAA = "keski-pohjanmaa"
    POHJOIS_POHJANMAA = "pohjois-pohjanmaa"
    KAINUU = "kainuu"
    LAPPI = "lappi"


class EmploymentStatus(StrEnum):
    EMPLOYED = "employed"
    ENTREPRENEUR = "entrepreneur"
    UNEMPLOYED = "unemployed"
    LAID_OFF = "laid_off"  # lomautettu: temporarily laid off, employment relationship continues
    STUDENT = "student"
    OUTSIDE_LABOUR_FORCE = "outside_labour_force"
    UNKNOWN = "unknown"


class ContactReason(StrEnum):
    """ICPC-2 chapter of the reason for the current contact."""

    GENERAL = "A"  # general and unspecified
    BLOOD = "B"
    DIGESTIVE = "D"
    EYE = "F"
    EAR = "H"
    CIRCULATORY = "K"
    MUSCULOSKELETAL = "L"
    NEUROLOGICAL = "N"
    PSYCHOLOGICAL = "P"
    RESPIRATORY = "R"
    SKIN = "S"
    ENDOCRINE = "T"
    URINARY = "U"
    PREGNANCY = "W"
    FEMALE_GENITAL = "X"
    MALE_GENITAL = "Y"
    SOCIAL = "Z"


class ReferralSource(StrEnum):
    SELF = "self"
    EMPLOYMENT_SERVICES = "employment_services"  # TE services / municipal employment services
    KELA = "kela"
    PRIMARY_CARE = "primary_care"
    SPECIALISED_CARE = "specialised_care"
    OCCUPATIONAL_HEALTH = "occupational_health"
    SOCIAL_SERVICES = "social_services"
    NGO = "ngo"
    # Added in contract 1.2.0 (seed 002 names them as referrers to the work-ability services):
    PENSION_INSURER = "pension_insurer"  # työeläkevakuuttaja
    CRIMINAL_SANCTIONS = "criminal_sanctions"  # Rikosseuraamuslaitos
    YOUTH_SERVICES = "youth_services"  # nuorten palvelut, Ohjaamo
    EDUCATION = "education"  # oppilaitos, koulutuspalvelut
    OTHER = "other"


class ClientGroup(StrEnum):
    NEW_CLIENT = "new_client"  # seeking services for the first time
    OUTSIDE_SERVICES = "outside_services"  # found outside services (outreach)
    IN_SERVICES = "in_services"  # already a client of the centre


class SupportLevel(StrEnum):
    """The three levels of DOMAIN.md, lightest first."""

    SELF_CARE = "self_care"  # Omahoito
    CONSULTATION = "consultation"  # Konsultaatio
    TEAM = "team"  # Työkyvyn tuen tiimi
