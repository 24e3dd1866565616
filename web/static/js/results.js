// Inspection results of a company, if the service publishes them (GET /api/v1/public/subjects/<code>/results).
for (const slot of document.querySelectorAll(".results-slot")) {
  const code = slot.dataset.code;
  fetch(`/api/v1/public/subjects/${encodeURIComponent(code)}/results`, { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .then((data) => {
      const rows = data && (data.results || data.items || []);
      if (!rows || !rows.length) return;
      const h = document.createElement("h3");
      h.textContent = slot.dataset.title;
      const ul = document.createElement("ul");
      for (const r of rows) {
        const li = document.createElement("li");
        li.textContent = [r.date || r.checked_on || r.published_at || "", r.item || r.plan || "", r.conclusion || r.result || r.outcome || "",
          r.handling || ""].filter(Boolean).join(" · ");
        ul.appendChild(li);
      }
      slot.append(h, ul);
    })
    .catch(() => {});
}
