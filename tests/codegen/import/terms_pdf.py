# Writes terms_pdf.pdf, the PDF test case of botc import (tests/unit/test_import.c):
# three pages of Helvetica text with a running header, page numbers, headings,
# a hyphenated line break and a sentence across a page break.
#   python3 tests/codegen/import/terms_pdf.py > tests/codegen/import/terms_pdf.pdf
import sys
pages = [
 [("Dunav Drive - Rental terms",800),
  ("RENTAL TERMS",760),
  ("These terms apply to every rental from Dunav Drive.",730),
  ("1. Deposit",690),
  ("We block a deposit on your card when you pick up the car. The depo-",660),
  ("sit is released within 14 days after you return the car.",646),
  ("1.1 Cards",606),
  ("We accept these cards:",576),
  ("- Visa and Mastercard",562),
  ("- American Express",548),
  ("Page 1 of 3",40)],
 [("Dunav Drive - Rental terms",800),
  ("2. Insurance",760),
  ("Basic insurance (CDW and theft protection) is included in every price",730),
  ("Full cover costs 12 EUR per day and also",716),
  ("Page 2 of 3",40)],
 [("Dunav Drive - Rental terms",800),
  ("covers tyres, glass and the underbody.",760),
  ("Contact",720),
  ("Call the office on weekdays from 9 to 18, or write to us at any time.",690),
  ("Page 3 of 3",40)],
]
objs = []
def add(s): objs.append(s); return len(objs)
catalog = add(None); pages_obj = add(None); font = add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
kids = []
for p in pages:
    ops = "".join("BT /F1 11 Tf 56 %d Td (%s) Tj ET\n" % (y, t) for t, y in p)
    c = add("<< /Length %d >>\nstream\n%sendstream" % (len(ops), ops))
    kids.append(add("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (pages_obj, font, c)))
objs[catalog-1] = "<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
objs[pages_obj-1] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % k for k in kids), len(kids))
out = "%PDF-1.4\n% terms.pdf: a test of botc import (tests/unit/test_import.c), written by hand as text\n"
offs = []
for i, o in enumerate(objs):
    offs.append(len(out)); out += "%d 0 obj\n%s\nendobj\n" % (i + 1, o)
x = len(out)
out += "xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + "".join("%010d 00000 n \n" % o for o in offs)
out += "trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, catalog, x)
sys.stdout.write(out)
