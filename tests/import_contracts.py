"""A custom import-linter contract: no module imports a test module (``test_*.py``).

import-linter's own wildcards match whole module names only (``tests.*.conftest``), not
``tests.**.test_*``, so "helpers come from conftest.py or tests/support/, never from another
test module" needs a contract type of its own. Configured in pyproject.toml
(``[tool.importlinter]``), run by ``lint-imports`` in ``make lint``.
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields
from importlinter.application import output


class NoTestModuleImportsContract(Contract):
    """Modules named ``test_*`` inside ``containers`` are imported by no module at all.

    Options: ``containers`` — the packages holding test modules (e.g. ``tests``).
    """

    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        broken: list[tuple[str, str, list[int]]] = []
        for container in self.containers:  # type: ignore[attr-defined]
            for module in sorted(graph.find_descendants(container)):
                if not module.rsplit(".", 1)[-1].startswith("test_"):
                    continue
                for importer in sorted(graph.find_modules_that_directly_import(module)):
                    details = graph.get_import_details(importer=importer, imported=module)
                    broken.append((importer, module, [d["line_number"] for d in details]))
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, lines in check.metadata["broken"]:
            where = ", ".join(f"l.{n}" for n in lines)
            output.print_error(
                f"{importer} imports the test module {imported} ({where}): move the helper "
                "to a conftest.py fixture or tests/support/"
            )
            output.new_line()
