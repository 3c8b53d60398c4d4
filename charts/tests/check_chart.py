"""Lints and renders charts/telltale with Helm (helm-python-sdk, Helm as a library) and
validates every rendered manifest, plus any extra manifest files given, against the
official Kubernetes schemas, offline (kubernetes-validate).

usage: check_chart.py [--kube-version 1.33] [--objects FILE.yaml ...]
Exits non-zero and prints one line per problem when anything fails.
"""

import argparse
import pathlib
import sys

import helm_python as helm
import kubernetes_validate
import yaml

CHART = pathlib.Path(__file__).resolve().parent.parent / "telltale"

# Value sets the chart must render and validate with.
VALUE_SETS = {
    "defaults": {},
    "namespace-scope": {"scope": "namespace", "watchNamespace": "monitoring", "replicas": 1},
    "custom": {
        "image": {"repository": "registry.local/telltale", "tag": "dev", "pullPolicy": "Always"},
        "serviceAccount": {"create": False, "name": "ops"},
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
        "nodeSelector": {"kubernetes.io/os": "linux"},
    },
    "no-operator-crds": {"prometheusOperatorCrds": {"install": False}},
}

# prometheus-operator's CRDs the chart installs when asked (and absent from the cluster).
OPERATOR_CRDS = {
    "servicemonitors.monitoring.coreos.com",
    "podmonitors.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
    "scrapeconfigs.monitoring.coreos.com",
}


def validate(doc, where, kube_version, problems):
    if not doc:
        return
    try:
        kubernetes_validate.validate(doc, kube_version, strict=True)
    except kubernetes_validate.ValidationError as e:
        problems.append(f"{where}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {e.message} at {list(e.path)}")
    except kubernetes_validate.SchemaNotFoundError as e:
        problems.append(f"{where}: no schema for {e}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kube-version", default="1.33.0")
    parser.add_argument("--objects", nargs="*", default=[])
    args = parser.parse_args()
    problems = []
    checked = 0

    for name, values in VALUE_SETS.items():
        report = helm.lint(str(CHART), values, strict=True, kube_version=f"v{args.kube_version}")
        for m in report.get("messages", []):
            if m.get("severity", 0) >= 2:
                problems.append(f"helm lint ({name}): {m.get('path')}: {m.get('error')}")
        for e in report.get("errors", []):
            problems.append(f"helm lint ({name}): {e}")

        chart = helm.Chart.load(str(CHART))
        manifests = chart.render(values, name="telltale", namespace="telltale-system", is_install=True)
        kinds = set()
        operator_crds = set()
        for path, text in sorted(manifests.items()):
            if not path.endswith((".yaml", ".yml")):
                continue
            for doc in yaml.safe_load_all(text):
                if doc:
                    kinds.add(doc["kind"])
                    if doc["kind"] == "CustomResourceDefinition":
                        operator_crds.add(doc["metadata"]["name"])
                        if doc["metadata"].get("annotations", {}).get("helm.sh/resource-policy") != "keep":
                            problems.append(f"{name}: {path}: {doc['metadata']['name']} is not kept on uninstall")
                    validate(doc, f"{name}: {path}", args.kube_version, problems)
                    checked += 1
        want_operator_crds = OPERATOR_CRDS if values.get("prometheusOperatorCrds", {}).get("install", True) else set()
        if operator_crds != want_operator_crds:
            problems.append(f"helm template ({name}): prometheus-operator CRDs {sorted(operator_crds)}, want {sorted(want_operator_crds)}")
        want = {"Deployment", "Service", "PodDisruptionBudget" if values.get("replicas", 2) > 1 else "Deployment",
                "Role", "RoleBinding"}
        if values.get("serviceAccount", {}).get("create", True):
            want.add("ServiceAccount")
        want.add("ClusterRole" if values.get("scope", "cluster") == "cluster" else "Role")
        if not want <= kinds:
            problems.append(f"helm template ({name}): missing kinds {sorted(want - kinds)}")
        crds = [c["name"] for c in chart.crds]
        if not crds:
            problems.append(f"chart ({name}): no CRDs")
        for crd in chart.crds:
            for doc in yaml.safe_load_all(crd.get("data", "")):
                validate(doc, f"{name}: {crd['name']}", args.kube_version, problems)
                checked += 1

    for f in args.objects:
        for doc in yaml.safe_load_all(pathlib.Path(f).read_text()):
            validate(doc, f, args.kube_version, problems)
            checked += 1

    for p in problems:
        print(p)
    print(f"{checked} manifests checked, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
