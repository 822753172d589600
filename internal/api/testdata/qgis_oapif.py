"""Opens a collection of the service's OGC API in QGIS, headless, as a GIS
user would, and prints as JSON what QGIS made of it: for each of QGIS's two
ways in, its fields with their types, its feature count, and the
clearance_id of every feature it read, in order.

    QT_QPA_PLATFORM=offscreen python3 qgis_oapif.py BASE TOKEN COLLECTION

The two ways in:
  "oapif": QGIS's own OGC API - Features provider (Add WFS / OGC API -
           Features Layer), paging with the service's next links
           (PAGE_SIZE features a page, or as the service's OpenAPI says);
  "ogr":   GDAL's OAPIF driver through QGIS's OGR provider (Add Vector
           Layer, protocol OGC API - Features).

clearmap's tests run it (internal/api/qgis_test.go) on a live server.
"""
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import Qgis, QgsApplication, QgsVectorLayer  # noqa: E402


def value(v):
    """An attribute as JSON: null, a date as YYYY-MM-DD, or itself."""
    if v is None or (hasattr(v, "isNull") and v.isNull()):
        return None
    if hasattr(v, "toString"):
        return v.toString("yyyy-MM-dd")
    return v


def read(layer):
    if not layer.isValid():
        return {"valid": False, "error": layer.dataProvider().error().message() if layer.dataProvider() else ""}
    fields = [{"name": f.name(), "type": f.typeName(), "variant": int(f.type())} for f in layer.fields()]
    names = layer.fields().names()
    features = [dict(zip(names, map(value, f.attributes()))) for f in layer.getFeatures()]
    return {"valid": True, "fields": fields, "count": layer.featureCount(), "features": features}


def main():
    base, token, collection = sys.argv[1:4]
    paging = "pagingEnabled='true'"
    if len(sys.argv) > 4:
        paging += " pageSize='%s'" % sys.argv[4]
    app = QgsApplication([], False)
    app.initQgis()
    try:
        url = base + "/ogc?access_token=" + token
        oapif = QgsVectorLayer(
            "%s restrictToRequestBBOX='0' typename='%s' url='%s'" % (paging, collection, url),
            collection, "OAPIF")
        ogr = QgsVectorLayer("OAPIF:%s|layername=%s" % (url, collection), collection, "ogr")
        print(json.dumps({"qgis": Qgis.QGIS_VERSION, "oapif": read(oapif), "ogr": read(ogr)}, default=str))
        # The layers go before QGIS does: QGIS 3.22 crashes on exit when an
        # OGC API layer outlives it.
        del oapif, ogr
    finally:
        app.exitQgis()


main()
