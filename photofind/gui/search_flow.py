"""The main window's side of searching: the search box's text through the query language,
find-similar, the filter chips and sort menu, the answers shown as sections (good matches,
the "Show N weaker matches" divider, date headers) and the timeline an empty box shows,
loaded a page at a time as the person scrolls. A mixin of `MainWindow` (window.py), which
owns the widgets it uses; the searching itself runs on the search worker's thread.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Slot

from photofind.core.search.query import QueryError, parse
from photofind.gui import results_sections as sections
from photofind.gui.filter_chips import filter_tokens, without

MORE_WITHIN = 2  # screens from the bottom of the timeline: load the next page


class SearchFlow:
    # --- what the person does -----------------------------------------------------------------

    def _text_edited(self, text: str) -> None:
        if self.search.paths and _has_words(text):  # typing words replaces a find-similar
            self.search.paths = []
            self.bar.chip.set_paths([])

    def _text_changed(self, text: str) -> None:
        self.chips.set_text(text)
        self.debounce.start()

    def _chips_edited(self, text: str) -> None:
        self.field.setText(text)  # the chips' menus and × edit the query's text
        self.search_now(force=True)

    def _sort_changed(self, sort: str) -> None:
        self.search.sort = sort
        self.search_now(force=True)

    def search_now(self, force: bool = False) -> None:
        self.debounce.stop()
        text = self.field.text().strip()
        if text:
            self.notice = None
        if not force and text == self.search.text and self.search.query is not None \
                and (self.model.rowCount() or self.search.paths):
            return
        try:
            if self.search.paths:
                self.search.search_images(self.search.paths, text)
            elif text:
                self.search.search_text(text)
            elif self._timeline_ready():
                self.search.browse("")
            else:
                self.search.clear()
                self.model.clear()
                self._show_idle()
        except QueryError as exc:
            self._query_error(str(exc))

    def _timeline_ready(self) -> bool:
        info = self.library
        return bool(info.get("photos")) and not info.get("problem") and not self.notice

    def _query_error(self, message: str) -> None:
        """A filter that cannot mean anything: one line naming the token, in the window."""
        self.search.clear()
        self.model.clear()
        self.view.set_banner("")
        self.message.show_message("That search cannot be understood.",
                                  f"{message}.")  # it starts with the token, as typed
        self.results_stack.setCurrentWidget(self.message)
        self.status.set_note(message)
        self._results_note = message
        self._show_in_panel(None)
        self.results_shown.emit(0)

    def find_similar(self, paths: list[str]) -> None:
        """Show photos like `paths` (files inside or outside the library); the filters in
        the search box still apply, its words make way."""
        paths = [os.path.abspath(p) for p in paths if p]
        if not paths:
            return
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            self.show_notice("photofind cannot open that photo.",
                             f"{missing[0]} does not exist (moved, deleted, or mistyped). Drop "
                             "a photo on the window, or type what you are looking for.")
            return
        self.notice = None
        filters = " ".join(self.field.text()[s:e] for s, e, _k, _v in
                           filter_tokens(self.field.text()))
        self.field.blockSignals(True)
        self.field.setText(filters + " " if filters else "")
        self.field.blockSignals(False)
        self.chips.set_text(self.field.text())
        self.debounce.stop()
        self.bar.chip.set_paths(paths)
        if self.pages.currentWidget() is self.large:
            self.pages.setCurrentWidget(self.main_page)
        try:
            self.search.search_images(paths, filters)
        except QueryError as exc:
            self._query_error(str(exc))

    def clear_query(self) -> None:
        self.notice = None
        self.search.paths = []
        self.bar.chip.set_paths([])
        self.field.clear()
        self._show_in_panel(None)  # nothing selected: the panel makes way
        self.search_now(force=True)
        self.field.setFocus()

    def _divider_clicked(self, index) -> None:
        entry = self.model.entry(index.row())
        if isinstance(entry, sections.Filler):
            entry = entry.of
        if isinstance(entry, sections.Divider):
            self.weaker_expanded = not entry.expanded
            self._show_answer(self._answer, keep_place=True)

    def _scrolled(self, value: int) -> None:
        bar = self.view.verticalScrollBar()
        if (self.search.browsing and self._more and not self._loading_more
                and value >= bar.maximum() - MORE_WITHIN * self.view.viewport().height()):
            self._loading_more = self.search.more()

    # --- answers ----------------------------------------------------------------------------

    @Slot(object, float, bool)
    def _results(self, answer, seconds: float, rerun: bool) -> None:
        if isinstance(answer, list):  # plain results (benchmarks): one section, no divider
            answer = {"items": answer, "good": len(answer), "no_good": False,
                      "browses": False, "offset": 0, "limit": len(answer) or 1}
        items = answer["items"]
        if answer["browses"] and answer["offset"] > 0:  # the timeline's next page
            self._loading_more = False
            self._more = len(items) >= answer["limit"]
            self._append_page(items)
            return
        if not rerun:
            self.weaker_expanded = False
        self._answer = answer
        self._seconds = seconds
        self._more = answer["browses"] and len(items) >= answer["limit"]
        self._loading_more = False
        self._show_answer(answer, keep_place=rerun)
        self.results_shown.emit(len(items))

    def _show_answer(self, answer: dict, keep_place: bool = False) -> None:
        items = answer["items"]
        selected = self.selected_paths() if keep_place else []
        scrolled = self.view.verticalScrollBar().value()
        browses = answer["browses"]
        sort = (answer.get("query").effective_sort if answer.get("query") is not None
                else "relevance")
        what = f"“{self._words()}”" if self._words() else (
            "this photo" if self.search.paths else "these filters")
        if browses:
            rows = sections.entries(items, dated=True, per="month", weaker=False)
            banner = ""
        elif answer["no_good"]:
            rows = sections.entries(items, dated=sort != "relevance", per="day", weaker=False)
            banner = (f"No good matches for {what}. These are the closest photos, best first."
                      if items else "")
        else:
            rows = sections.entries(items, dated=sort != "relevance", per="day",
                                    expanded=self.weaker_expanded)
            banner = ""
        self.view.set_banner(banner)
        self.model.set_results(rows)
        if not items:
            title = ("No photos match these filters." if browses
                     else f"No photos match {what}.")
            self.message.show_message(title, "Remove a filter, try other words, or add more "
                                      "folders to the library.")
            self.results_stack.setCurrentWidget(self.message)
        else:
            self.results_stack.setCurrentWidget(self.view)
            self._reselect(selected)
            if keep_place:
                self.view.verticalScrollBar().setValue(scrolled)
        self._set_results_note(answer)

    def _set_results_note(self, answer: dict) -> None:
        items, ms = answer["items"], f"{self._seconds * 1000:.0f} ms"
        if not items:
            note = ""
        elif answer["browses"]:
            order = "oldest" if self.search.sort == "oldest" else "newest"
            total = self.library.get("photos", 0)
            note = (f"All {total:,} photos, {order} first" if not self.field.text().strip()
                    else f"Photos that pass the filters, {order} first") + f" · {ms}"
        elif answer["no_good"]:
            note = f"No good matches · the {len(items):,} closest photos · {ms}"
        else:
            weak = len(items) - answer["good"]
            good = answer["good"]
            note = f"{good:,} good match{'' if good == 1 else 'es'}" + (
                f" · {weak:,} weaker" if weak else "") + f" · {ms}"
        if self.search.cut and self.search.text:
            used, total = self.search.cut
            note = (f"Only the first {used} of your {total} words were used: the model reads "
                    "no more" + (f" · {note}" if note else ""))
        current = self.status.note.text()
        if answer["browses"] and current and current != self._results_note:
            return  # the timeline says nothing over a note about the library (indexing…)
        self.status.set_note(note)
        self._results_note = note

    def _append_page(self, items: list) -> None:
        rows = sections.entries(items, dated=True, per="month", weaker=False)
        shown = self.model.entries()
        last = next((e for e in reversed(shown) if isinstance(e, sections.Header)), None)
        if rows and last is not None and rows[0] == last:
            rows = rows[1:]  # the month goes on from the page before
        self.model.append(rows)
        self._answer["items"] = self._answer["items"] + items

    def _words(self) -> str:
        text = self.search.text or ""
        return " ".join(without(text, ("after", "before", "in", "type", "orientation"))
                        .split())

    @Slot(str)
    def _search_failed(self, message: str) -> None:
        self.model.clear()
        self.view.set_banner("")
        body = f"{message[:1].upper()}{message[1:]}."
        if self.search.paths:
            body += " Drop another photo on the window, or type what you are looking for."
        self.message.show_message("The search did not work.", body)
        self.results_stack.setCurrentWidget(self.message)
        self.results_shown.emit(0)

    def _reselect(self, paths: list[str]) -> None:
        rows = [r for r in (self.model.row_of(p) for p in paths) if r is not None]
        if rows:
            selection = self.view.selectionModel()
            selection.setCurrentIndex(self.model.index(rows[0]),
                                      selection.SelectionFlag.ClearAndSelect)
        else:
            self.view.scrollToTop()
            self._show_in_panel(None)


def _has_words(text: str) -> bool:
    try:
        return parse(text).has_content
    except QueryError:
        return True
