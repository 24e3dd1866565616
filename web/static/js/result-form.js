// Result entry form: the category table's rules as the page's hints (the server checks them again).
// "exclusive" (未发现问题) clears and disables every other box; a sub-item needs its parent checked.
const form = document.getElementById("result-form");
if (form) {
  const boxes = [...form.querySelectorAll('input[name="categories"]')];
  const update = () => {
    const exclusive = boxes.find((b) => b.dataset.exclusive && b.checked);
    const othersChecked = boxes.some((b) => !b.dataset.exclusive && b.checked);
    for (const b of boxes) {
      if (b.dataset.exclusive) {
        b.disabled = othersChecked;
      } else if (exclusive) {
        b.checked = false;
        b.disabled = true;
      } else if (b.dataset.parent) {
        const parent = boxes.find((p) => p.value === b.dataset.parent);
        if (!parent.checked) b.checked = false;
        b.disabled = !parent.checked;
      } else {
        b.disabled = false;
      }
      b.closest("label").classList.toggle("off", b.disabled);
    }
  };
  for (const b of boxes) b.addEventListener("change", update);
  update();
  const dept = document.getElementById("department");
  if (dept) {
    dept.addEventListener("change", () => {
      const url = new URL(window.location.href);
      url.searchParams.set("department", dept.value);
      window.location.assign(url.toString());
    });
  }
}
