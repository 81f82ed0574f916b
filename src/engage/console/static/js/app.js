// The console's shell: sign-in, the header (navigation by role, language switch, live indicator, sign-out) and
// a hash router (`#/wallboard`, `#/desk`, `#/admin/campaigns`, ...). Each view is a module exporting
// `mount(main, ctx)`, which renders into `main` and returns a function that stops its timers and subscriptions.

import { currentSession, logout, onSessionChange, refreshSession } from "./api.js";
import { h, replace } from "./dom.js";
import { apply, lang, onLangChange, setLang, setZone, t } from "./i18n.js";
import { closeStream, onStreamState, openStream } from "./stream.js";
import * as login from "./views/login.js";
import * as wallboard from "./views/wallboard.js";
import * as desk from "./views/desk.js";
import * as campaigns from "./views/admin/campaigns.js";
import * as people from "./views/admin/people.js";
import * as cliGroups from "./views/admin/cli_groups.js";
import * as recordings from "./views/admin/recordings.js";
import * as webhooks from "./views/admin/webhooks.js";
import * as compliance from "./views/admin/compliance.js";
import * as reports from "./views/admin/reports.js";

// Each route: its view, the nav text key and the roles that see it (the API enforces the same rules).
const ROUTES = [
  { path: "/wallboard", view: wallboard, label: "nav.wallboard", roles: ["supervisor", "admin"] },
  { path: "/desk", view: desk, label: "nav.desk", roles: ["agent"] },
  { path: "/admin/campaigns", view: campaigns, label: "nav.campaigns", roles: ["supervisor", "admin"] },
  { path: "/admin/people", view: people, label: "nav.people", roles: ["admin"] },
  { path: "/admin/cli-groups", view: cliGroups, label: "nav.cliGroups", roles: ["admin"] },
  { path: "/admin/recordings", view: recordings, label: "nav.recordings", roles: ["agent", "supervisor", "admin"] },
  { path: "/admin/integrations", view: webhooks, label: "nav.integrations", roles: ["admin"] },
  { path: "/admin/compliance", view: compliance, label: "nav.compliance", roles: ["agent", "supervisor", "admin"] },
  { path: "/admin/reports", view: reports, label: "nav.reports", roles: ["agent", "supervisor", "admin"] },
];

const root = document.getElementById("app");
let unmount = null;

function routesFor(role) {
  return ROUTES.filter((r) => r.roles.includes(role));
}

// The route's path, without the query a view may keep in the hash (`#/admin/campaigns?id=...`).
function currentPath() {
  return window.location.hash.replace(/^#/, "").split("?")[0] || "/";
}

function languageSwitch() {
  const other = lang() === "ar" ? "en" : "ar";
  return h("button", {
    type: "button", class: "lang-switch", lang: other, "data-testid": "lang-switch",
    "aria-label": t("lang.switchTo"), onclick: () => setLang(other),
  }, other === "ar" ? "العربية" : "English");
}

function liveIndicator() {
  const el = h("span", { class: "live", role: "status", "data-testid": "stream-state" });
  const stop = onStreamState((state) => {
    el.dataset.state = state;
    el.textContent = t(`stream.${state}`);
  });
  return [el, stop];
}

function header(session, path) {
  const [live, stopLive] = liveIndicator();
  const nav = h("nav", { "aria-label": t("nav.label") }, h("ul", {},
    routesFor(session.user.role).map((r) => h("li", {},
      h("a", { href: `#${r.path}`, "aria-current": r.path === path ? "page" : null }, t(r.label))))));
  const bar = h("header", { class: "topbar" },
    h("a", { class: "brand", href: "#/" }, h("span", { class: "logo", "aria-hidden": "true" }, "◉"), t("app.name")),
    nav,
    h("div", { class: "who" },
      live,
      h("span", { class: "user" }, session.user.full_name, h("small", {}, t(`role.${session.user.role}`))),
      languageSwitch(),
      h("button", { type: "button", class: "secondary", onclick: () => logout() }, t("action.signOut"))));
  return [bar, stopLive];
}

function render() {
  if (unmount) unmount();
  unmount = null;
  apply();
  const session = currentSession();
  if (!session || !session.user) {
    closeStream();
    const main = h("main", { id: "main", class: "login-page" });
    replace(root, main);
    unmount = login.mount(main, {});
    return;
  }
  setZone(session.tenant && session.tenant.timezone);
  const allowed = routesFor(session.user.role);
  let route = allowed.find((r) => r.path === currentPath());
  if (!route) {
    window.location.replace(`#${allowed[0].path}`);
    return;
  }
  const [bar, stopHeader] = header(session, route.path);
  const main = h("main", { id: "main", tabindex: "-1", class: `view view-${route.path.split("/").pop()}` });
  replace(root, bar, main);
  openStreamOnce();
  const stopView = route.view.mount(main, { session, route: route.path });
  // After a move to another page, the focus goes to the page's content (its heading is read out next), not back
  // to the top of the document.
  if (navigated) main.focus({ preventScroll: true });
  navigated = false;
  unmount = () => {
    stopHeader();
    if (typeof stopView === "function") stopView();
  };
}

let streaming = false;
function openStreamOnce() {
  if (!streaming) {
    streaming = true;
    openStream();
  }
}

onSessionChange((session) => {
  if (!session) {
    streaming = false;
    closeStream();
    if (currentPath() !== "/") window.location.hash = "#/";
    render();
  }
});
let navigated = false;
window.addEventListener("hashchange", () => {
  navigated = true;
  render();
});
onLangChange(render);
window.addEventListener("engage:signed-in", render);
apply();
// A session kept from before a reload: who it is and the server's clock are read again before the first view.
if (currentSession()) refreshSession().then(render, render);
else render();
