"""Converts a MapLibre style with QGIS's own converter, headless, and prints
what QGIS made of it as JSON: the converter's warnings, the renderer's
styles (layer, filter, zooms, colours) and the labeling's.

    QT_QPA_PLATFORM=offscreen python3 qgis_convert.py STYLE.json|URL [TOKEN]

clearmap's tests run it (internal/api/qgis_test.go) on a live /style.json.
"""
import json
import os
import sys
import urllib.request

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    Qgis,
    QgsApplication,
    QgsMapBoxGlStyleConversionContext,
    QgsMapBoxGlStyleConverter,
    QgsSymbolLayer,
)


def load(where, token):
    if where.startswith("http://") or where.startswith("https://"):
        req = urllib.request.Request(where)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req) as r:
            return r.read().decode("utf-8")
    with open(where, encoding="utf-8") as f:
        return f.read()


def colours(symbol):
    """The symbol's colours: each layer's own, and any data-defined one."""
    out = []
    if symbol is None:
        return out
    for i in range(symbol.symbolLayerCount()):
        sl = symbol.symbolLayer(i)
        out.append(sl.color().name())
        props = sl.dataDefinedProperties()
        for key in (QgsSymbolLayer.PropertyFillColor, QgsSymbolLayer.PropertyStrokeColor):
            p = props.property(key)
            if p and p.isActive():
                out.append("expression: " + p.asExpression())
    return out


def dropped(props):
    """Data-defined properties set but empty: what the converter gave up on
    without a warning (e.g. a line width from case inside interpolate)."""
    return [str(k) for k in props.propertyKeys()
            if props.property(k).isActive() and not props.property(k).asExpression()]


def symbol_dropped(symbol):
    out = []
    if symbol is not None:
        for i in range(symbol.symbolLayerCount()):
            out += dropped(symbol.symbolLayer(i).dataDefinedProperties())
    return out


def main():
    text = load(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
    app = QgsApplication([], False)
    app.initQgis()
    converter = QgsMapBoxGlStyleConverter()
    context = QgsMapBoxGlStyleConversionContext()
    result = converter.convert(text, context)
    report = {
        "qgis": Qgis.QGIS_VERSION,
        "result": int(result),
        "error": converter.errorMessage(),
        "warnings": list(converter.warnings()) + list(context.warnings()),
        "renderer": [],
        "labeling": [],
    }
    renderer = converter.renderer()
    if renderer is not None:
        for s in renderer.styles():
            report["renderer"].append({
                "name": s.styleName(),
                "layer": s.layerName(),
                "geometry": int(s.geometryType()),
                "filter": s.filterExpression(),
                "enabled": s.isEnabled(),
                "minzoom": s.minZoomLevel(),
                "maxzoom": s.maxZoomLevel(),
                "colours": colours(s.symbol()),
                "dropped": symbol_dropped(s.symbol()),
            })
    labeling = converter.labeling()
    if labeling is not None:
        for s in labeling.styles():
            ls = s.labelSettings()
            report["labeling"].append({
                "name": s.styleName(),
                "layer": s.layerName(),
                "filter": s.filterExpression(),
                "enabled": s.isEnabled(),
                "field": ls.fieldName,
                "is_expression": ls.isExpression,
                "dropped": dropped(ls.dataDefinedProperties()),
            })
    print(json.dumps(report, indent=1))
    app.exitQgis()


if __name__ == "__main__":
    main()
