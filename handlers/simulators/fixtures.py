"""Invented register records and credentials that the simulators start with. None describes a real organisation."""

CQC_API_KEY = "sim-cqc-subscription-key"
COMPANIES_HOUSE_API_KEY = "sim-companies-house-key"
CHARITY_COMMISSION_API_KEY = "sim-charity-commission-key"
PAYPAL_CLIENT_ID = "sim-paypal-client-id"
PAYPAL_SECRET = "sim-paypal-secret"
PAYPAL_WEBHOOK_ID = "WH-SIM-0000000001"

# Postcodes use the ZZ area, which no real postcode uses.
CQC_PROVIDERS = {
    "1-000000001": {
        "providerId": "1-000000001",
        "locationIds": ["1-100000001", "1-100000002"],
        "organisationType": "Provider",
        "ownershipType": "Organisation",
        "type": "Social Care Org",
        "name": "Brightwater Home Care Ltd",
        "registrationStatus": "Registered",
        "registrationDate": "2015-03-02",
        "companiesHouseNumber": "09000001",
        "postalAddressLine1": "1 Sample Row",
        "postalAddressTownCity": "Exampleton",
        "postalCode": "ZZ1 1AA",
        "currentRatings": {"overall": {"rating": "Good", "reportDate": "2023-05-10"}},
    },
    "1-000000002": {
        "providerId": "1-000000002",
        "locationIds": ["1-100000003"],
        "organisationType": "Provider",
        "ownershipType": "Organisation",
        "type": "Social Care Org",
        "name": "Meadowlark Care Services Limited",
        "registrationStatus": "Registered",
        "registrationDate": "2018-09-17",
        "companiesHouseNumber": "09000002",
        "postalAddressLine1": "22 Fictional Street",
        "postalAddressTownCity": "Exampleton",
        "postalCode": "ZZ2 4BB",
        "currentRatings": {"overall": {"rating": "Outstanding", "reportDate": "2024-01-22"}},
    },
    "1-000000003": {
        "providerId": "1-000000003",
        "locationIds": [],
        "organisationType": "Provider",
        "ownershipType": "Organisation",
        "type": "Social Care Org",
        "name": "Old Mill Domiciliary Care Ltd",
        "registrationStatus": "Deregistered",
        "registrationDate": "2012-04-01",
        "deregistrationDate": "2021-06-30",
        "companiesHouseNumber": "09000003",
        "postalCode": "ZZ3 9CC",
    },
    "1-000000004": {
        "providerId": "1-000000004",
        "locationIds": ["1-100000004"],
        "organisationType": "Provider",
        "ownershipType": "Organisation",
        "type": "Social Care Org",
        "name": "Hollybank Community Care",
        "registrationStatus": "Registered",
        "registrationDate": "2024-11-05",
        "postalCode": "ZZ4 2DD",
    },
}

COMPANIES = {
    "09000001": {
        "company_name": "BRIGHTWATER HOME CARE LTD",
        "company_number": "09000001",
        "company_status": "active",
        "type": "ltd",
        "date_of_creation": "2014-11-20",
        "registered_office_address": {"address_line_1": "1 Sample Row", "locality": "Exampleton", "postal_code": "ZZ1 1AA"},
        "has_insolvency_history": False,
    },
    "09000002": {
        "company_name": "MEADOWLARK CARE SERVICES LIMITED",
        "company_number": "09000002",
        "company_status": "active",
        "type": "ltd",
        "date_of_creation": "2018-02-14",
        "registered_office_address": {"address_line_1": "22 Fictional Street", "locality": "Exampleton", "postal_code": "ZZ2 4BB"},
        "has_insolvency_history": False,
    },
    "09000003": {
        "company_name": "OLD MILL DOMICILIARY CARE LTD",
        "company_number": "09000003",
        "company_status": "dissolved",
        "type": "ltd",
        "date_of_creation": "2011-12-01",
        "date_of_cessation": "2022-03-15",
        "registered_office_address": {"address_line_1": "3 Invented Lane", "locality": "Exampleton", "postal_code": "ZZ3 9CC"},
        "has_insolvency_history": False,
    },
    "09000004": {
        "company_name": "FENWICK LANE CARE LTD",
        "company_number": "09000004",
        "company_status": "liquidation",
        "type": "ltd",
        "date_of_creation": "2016-06-06",
        "registered_office_address": {"address_line_1": "4 Made-up Road", "locality": "Exampleton", "postal_code": "ZZ5 3EE"},
        "has_insolvency_history": True,
    },
}

CHARITIES = {
    "1200001": {
        "reg_charity_number": 1200001,
        "group_subsid_suffix": 0,
        "charity_name": "HOLLYBANK COMMUNITY CARE",
        "reg_status": "R",
        "date_of_registration": "2019-07-01T00:00:00",
        "date_of_removal": None,
        "charity_co_reg_number": None,
        "insolvent": False,
        "in_administration": False,
    },
    "1200002": {
        "reg_charity_number": 1200002,
        "group_subsid_suffix": 0,
        "charity_name": "RIVERSIDE BEFRIENDING TRUST",
        "reg_status": "RM",
        "date_of_registration": "2001-02-12T00:00:00",
        "date_of_removal": "2020-10-30T00:00:00",
        "charity_co_reg_number": None,
        "insolvent": False,
        "in_administration": False,
    },
    "1200003": {
        "reg_charity_number": 1200003,
        "group_subsid_suffix": 0,
        "charity_name": "LARKSPUR CARE ASSOCIATION",
        "reg_status": "R",
        "date_of_registration": "2010-05-20T00:00:00",
        "date_of_removal": None,
        "charity_co_reg_number": "09000005",
        "insolvent": True,
        "in_administration": False,
    },
}
