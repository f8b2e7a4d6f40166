// A picture that answers clicks (Apply's prediction view). A Streamlit v2 component (no build step): Python
// sends `data` ({src, alt, marks}); a click sets the state value `click` to {x, y, t}: the point clicked in the
// picture's own pixels (whatever size the page shows it at) and the time of the click, so that two clicks on
// one pixel are two changes. `marks` become data- attributes of the <img> (tests read the view from them).

const STATE = new WeakMap();

export default function picture(component) {
  const { data, parentElement, setStateValue } = component;
  let s = STATE.get(parentElement);
  if (!s) {
    const img = document.createElement("img");
    img.className = "picture-click";
    img.setAttribute("data-testid", "picture-click");
    img.draggable = false;
    (parentElement.querySelector(".picture-root") || parentElement).appendChild(img);
    s = { img, send: setStateValue };
    img.addEventListener("click", (e) => {
      const box = img.getBoundingClientRect();
      if (!box.width || !box.height || !img.naturalWidth || !img.naturalHeight) return;
      const x = ((e.clientX - box.left) * img.naturalWidth) / box.width;
      const y = ((e.clientY - box.top) * img.naturalHeight) / box.height;
      s.send("click", { x, y, t: Date.now() });
    });
    STATE.set(parentElement, s);
  }
  s.send = setStateValue;
  const d = data || {};
  if (d.src && s.img.getAttribute("src") !== d.src) s.img.setAttribute("src", d.src);
  s.img.alt = d.alt || "";
  for (const [name, value] of Object.entries(d.marks || {})) s.img.dataset[name] = String(value);
  return () => {
    const old = STATE.get(parentElement);
    if (old) {
      old.img.remove();
      STATE.delete(parentElement);
    }
  };
}
