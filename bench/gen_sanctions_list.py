#!/usr/bin/env python3
"""Writes invented sanctions lists for benchmarks of `liaison freeze import`.

For N entries and a seed it writes, in OUT_DIR, the same invented list in the
published XML forms `liaison freeze import` reads:

    un_N.xml        the UN Security Council Consolidated List form (--format un-xml)
    un_N_v2.xml     its update: K entries added, K amended, K removed
    ofac_N.xml      OFAC's SDN list form (--format ofac-xml)
    ofac_N_v2.xml   its update, the same way

Every name, number and fact is invented; the same N, K and seed always give
the same files, byte for byte.

    bench/gen_sanctions_list.py --entries 20000 --changes 200 --seed 1 --out-dir /tmp/lists
"""

import argparse
import os
import random
from xml.sax.saxutils import escape

SYLLABLES = ["al", "ka", "ri", "mo", "na", "zir", "ben", "tor", "vel", "sha", "dun", "mir",
             "ost", "lan", "qua", "fer", "gol", "hab", "ix", "jor", "lem", "pra", "sud", "tek"]
COUNTRIES = ["Iraq", "Syrian Arab Republic", "Afghanistan", "Yemen", "Somalia", "Libya",
             "Cyprus", "Malta", "Panama", "United Arab Emirates", "Pakistan", "Mexico",
             "Democratic People's Republic of Korea", "Iran (Islamic Republic of)", "Russia"]
CITIES = ["Mosul", "Aleppo", "Kandahar", "Aden", "Mogadishu", "Tripoli", "Limassol", "Valletta",
          "Colon", "Dubai", "Karachi", "Culiacan", "Pyongyang", "Tehran", "Kazan"]
UN_PROGRAMMES = [("QD", "Al-Qaida"), ("TA", "Taliban"), ("KP", "DPRK"), ("LY", "Libya"),
                 ("IQ", "Iraq"), ("SO", "Somalia"), ("CD", "DRC"), ("YE", "Yemen")]
OFAC_PROGRAMMES = ["SDGT", "IRGC", "IRAN", "SDNTK", "NPWMD", "DPRK3", "CYBER2", "RUSSIA-EO14024",
                   "ILLICIT-DRUGS-EO14059", "GLOMAG"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def word(rng, parts):
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def person(rng):
    return [word(rng, 2).upper(), word(rng, 2).upper(), word(rng, 3).upper()]


def company(rng):
    return "%s %s %s" % (word(rng, 2).upper(), word(rng, 2).upper(),
                         rng.choice(["TRADING LLC", "SHIPPING CO", "FOUNDATION", "EXCHANGE",
                                     "HOLDINGS LTD", "AIR CARGO"]))


def make_entry(rng, n):
    """One invented entry, independent of the output format."""
    individual = rng.random() < 0.7
    prog = rng.choice(UN_PROGRAMMES)
    e = {
        "n": n,
        "individual": individual,
        "un_ref": "%s%s.%05d" % (prog[0], "i" if individual else "e", n),
        "un_programme": prog[1],
        "ofac_programmes": rng.sample(OFAC_PROGRAMMES, rng.randint(1, 3)),
        "names": person(rng) if individual else [company(rng)],
        "aliases": [(word(rng, 2) + " " + word(rng, 3), rng.choice(["Good", "Low"]))
                    for _ in range(rng.randint(0, 4))],
        "country": rng.choice(COUNTRIES),
        "city": rng.choice(CITIES),
        "listed": "%04d-%02d-%02d" % (rng.randint(2001, 2025), rng.randint(1, 12), rng.randint(1, 28)),
        "born": (rng.randint(1940, 1995), rng.randint(1, 12), rng.randint(1, 28)),
        "born_range": rng.random() < 0.3,
        "documents": [("Passport", "%s%07d" % (rng.choice("ABCP"), rng.randint(0, 9999999)))
                      for _ in range(rng.randint(0, 2) if individual else 0)],
        "addresses": [("%d %s Street" % (rng.randint(1, 200), word(rng, 2)), rng.choice(CITIES),
                       rng.choice(COUNTRIES)) for _ in range(rng.randint(0, 2))],
        "comments": " ".join(word(rng, rng.randint(1, 3)).lower() for _ in range(rng.randint(5, 40))),
        "amended": None,
    }
    return e


def amend(rng, e):
    e = dict(e)
    e["aliases"] = e["aliases"] + [(word(rng, 2) + " " + word(rng, 2), "Good")]
    e["amended"] = "2026-%02d-%02d" % (rng.randint(1, 11), rng.randint(1, 28))
    return e


def un_xml(entries):
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n',
           "<!-- An invented list in the form of the UN consolidated list (bench/gen_sanctions_list.py). -->\n",
           '<CONSOLIDATED_LIST dateGenerated="2026-11-01T00:00:00">\n']
    for kind, individual in (("INDIVIDUAL", True), ("ENTITY", False)):
        out.append("  <%sS>\n" % ("INDIVIDUAL" if individual else "ENTITIE"))
        for e in entries:
            if e["individual"] != individual:
                continue
            x = ["    <%s>\n" % kind, "      <DATAID>%d</DATAID>\n" % (7000000 + e["n"]),
                 "      <VERSIONNUM>1</VERSIONNUM>\n"]
            for tag, part in zip(["FIRST_NAME", "SECOND_NAME", "THIRD_NAME"], e["names"]):
                x.append("      <%s>%s</%s>\n" % (tag, escape(part), tag))
            x.append("      <UN_LIST_TYPE>%s</UN_LIST_TYPE>\n" % e["un_programme"])
            x.append("      <REFERENCE_NUMBER>%s</REFERENCE_NUMBER>\n" % e["un_ref"])
            x.append("      <LISTED_ON>%s</LISTED_ON>\n" % e["listed"])
            x.append("      <COMMENTS1>%s</COMMENTS1>\n" % escape(e["comments"]))
            if individual:
                x.append("      <NATIONALITY><VALUE>%s</VALUE></NATIONALITY>\n" % escape(e["country"]))
            x.append("      <LIST_TYPE><VALUE>UN List</VALUE></LIST_TYPE>\n")
            x.append("      <LAST_DAY_UPDATED><VALUE>%s</VALUE></LAST_DAY_UPDATED>\n" % (e["amended"] or ""))
            alias_tag = "INDIVIDUAL_ALIAS" if individual else "ENTITY_ALIAS"
            for name, quality in e["aliases"]:
                x.append("      <%s><QUALITY>%s</QUALITY><ALIAS_NAME>%s</ALIAS_NAME></%s>\n"
                         % (alias_tag, quality, escape(name), alias_tag))
            addr_tag = "INDIVIDUAL_ADDRESS" if individual else "ENTITY_ADDRESS"
            for street, city, country in e["addresses"]:
                x.append("      <%s><STREET>%s</STREET><CITY>%s</CITY><COUNTRY>%s</COUNTRY></%s>\n"
                         % (addr_tag, escape(street), escape(city), escape(country), addr_tag))
            if individual:
                y, m, d = e["born"]
                if e["born_range"]:
                    x.append("      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>BETWEEN</TYPE_OF_DATE>"
                             "<FROM_YEAR>%d</FROM_YEAR><TO_YEAR>%d</TO_YEAR></INDIVIDUAL_DATE_OF_BIRTH>\n"
                             % (y, y + 2))
                else:
                    x.append("      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE>"
                             "<DATE>%04d-%02d-%02d</DATE></INDIVIDUAL_DATE_OF_BIRTH>\n" % (y, m, d))
                x.append("      <INDIVIDUAL_PLACE_OF_BIRTH><CITY>%s</CITY><COUNTRY>%s</COUNTRY>"
                         "</INDIVIDUAL_PLACE_OF_BIRTH>\n" % (escape(e["city"]), escape(e["country"])))
                for dtype, number in e["documents"]:
                    x.append("      <INDIVIDUAL_DOCUMENT><TYPE_OF_DOCUMENT>%s</TYPE_OF_DOCUMENT>"
                             "<NUMBER>%s</NUMBER><ISSUING_COUNTRY>%s</ISSUING_COUNTRY>"
                             "</INDIVIDUAL_DOCUMENT>\n" % (dtype, number, escape(e["country"])))
            x.append("    </%s>\n" % kind)
            out.append("".join(x))
        out.append("  </%sS>\n" % ("INDIVIDUAL" if individual else "ENTITIE"))
    out.append("</CONSOLIDATED_LIST>\n")
    return "".join(out)


def ofac_xml(entries):
    out = ['<?xml version="1.0" standalone="yes"?>\n',
           "<!-- An invented list in the form of OFAC's SDN list (bench/gen_sanctions_list.py). -->\n",
           '<sdnList xmlns="https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/XML">\n',
           "  <publshInformation><Publish_Date>11/01/2026</Publish_Date>"
           "<Record_Count>%d</Record_Count></publshInformation>\n" % len(entries)]
    for e in entries:
        x = ["  <sdnEntry>\n", "    <uid>%d</uid>\n" % (100000 + e["n"])]
        if e["individual"]:
            x.append("    <firstName>%s</firstName>\n" % escape(e["names"][0].capitalize()))
            x.append("    <lastName>%s</lastName>\n" % escape(" ".join(e["names"][1:])))
            x.append("    <sdnType>Individual</sdnType>\n")
        else:
            x.append("    <lastName>%s</lastName>\n" % escape(e["names"][0]))
            x.append("    <sdnType>Entity</sdnType>\n")
        x.append("    <remarks>%s</remarks>\n" % escape(e["comments"]))
        x.append("    <programList>%s</programList>\n"
                 % "".join("<program>%s</program>" % p for p in e["ofac_programmes"]))
        if e["documents"]:
            x.append("    <idList>%s</idList>\n" % "".join(
                "<id><uid>%d</uid><idType>%s</idType><idNumber>%s</idNumber><idCountry>%s</idCountry></id>"
                % (i, dtype, number, escape(e["country"])) for i, (dtype, number) in enumerate(e["documents"])))
        if e["aliases"]:
            x.append("    <akaList>%s</akaList>\n" % "".join(
                "<aka><uid>%d</uid><type>a.k.a.</type><category>%s</category><lastName>%s</lastName></aka>"
                % (i, "strong" if q == "Good" else "weak", escape(name))
                for i, (name, q) in enumerate(e["aliases"])))
        if e["addresses"]:
            x.append("    <addressList>%s</addressList>\n" % "".join(
                "<address><uid>%d</uid><address1>%s</address1><city>%s</city><country>%s</country></address>"
                % (i, escape(s), escape(c), escape(k)) for i, (s, c, k) in enumerate(e["addresses"])))
        if e["individual"]:
            y, m, d = e["born"]
            dob = "%d to %d" % (y, y + 2) if e["born_range"] else "%02d %s %d" % (d, MONTHS[m - 1], y)
            x.append("    <nationalityList><nationality><uid>1</uid><country>%s</country>"
                     "<mainEntry>true</mainEntry></nationality></nationalityList>\n" % escape(e["country"]))
            x.append("    <dateOfBirthList><dateOfBirthItem><uid>1</uid><dateOfBirth>%s</dateOfBirth>"
                     "<mainEntry>true</mainEntry></dateOfBirthItem></dateOfBirthList>\n" % dob)
            x.append("    <placeOfBirthList><placeOfBirthItem><uid>1</uid><placeOfBirth>%s, %s</placeOfBirth>"
                     "<mainEntry>true</mainEntry></placeOfBirthItem></placeOfBirthList>\n"
                     % (escape(e["city"]), escape(e["country"])))
        x.append("  </sdnEntry>\n")
        out.append("".join(x))
    out.append("</sdnList>\n")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=20000, help="entries in the list (N)")
    ap.add_argument("--changes", type=int, default=200,
                    help="entries added, amended and removed in the update, each (K)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out-dir", default=".")
    args = ap.parse_args()
    if args.entries < 1 or args.changes < 0 or 2 * args.changes > args.entries:
        ap.error("need N >= 1 and 0 <= 2K <= N")
    rng = random.Random(args.seed)
    v1 = [make_entry(rng, n) for n in range(args.entries)]
    picked = rng.sample(range(args.entries), 2 * args.changes)
    removed = set(picked[:args.changes])
    amended = set(picked[args.changes:])
    v2 = [amend(rng, e) if e["n"] in amended else e for e in v1 if e["n"] not in removed]
    v2 += [make_entry(rng, args.entries + i) for i in range(args.changes)]
    os.makedirs(args.out_dir, exist_ok=True)
    for name, text in (("un_%d.xml", un_xml(v1)), ("un_%d_v2.xml", un_xml(v2)),
                       ("ofac_%d.xml", ofac_xml(v1)), ("ofac_%d_v2.xml", ofac_xml(v2))):
        path = os.path.join(args.out_dir, name % args.entries)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print("%s: %d bytes" % (path, len(text.encode("utf-8"))))


if __name__ == "__main__":
    main()
