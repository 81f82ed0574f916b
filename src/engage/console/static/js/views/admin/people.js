// Users and teams (admins): every user with role, team, SIP user and whether they may sign in; create a user;
// edit one (name, role, team, SIP user, a new password); deactivate or reactivate (PATCH is_active: a deactivated
// user keeps their history but can no longer sign in). Teams: the list with their member counts, and create one.

import { all, api } from "../../api.js";
import { badge, dialog, field, formValues, h, replace, section, showProblem, table, toast } from "../../dom.js";
import { extend, fmtDateTime, fmtNumber, t } from "../../i18n.js";
import { busy, clearNotice, compact, confirmDialog, formNotice, option, pageHead, showLoadError } from "./shared.js";

extend({
  en: {
    "people.title": "Users and teams",
    "people.users": "Users",
    "people.filterRole": "Role",
    "people.filterStatus": "Status",
    "people.active": "Active",
    "people.inactive": "Deactivated",
    "people.name": "Full name",
    "people.email": "Email",
    "people.role": "Role",
    "people.team": "Team",
    "people.sipUser": "SIP user",
    "people.status": "Status",
    "people.lastLogin": "Last sign-in",
    "people.never": "Never",
    "people.actions": "Actions",
    "people.edit": "Edit",
    "people.editTitle": "Edit {name}",
    "people.deactivate": "Deactivate",
    "people.activate": "Reactivate",
    "people.deactivateTitle": "Deactivate {name}?",
    "people.deactivateBody": "{name} will no longer be able to sign in or take calls. Their calls, recordings and reports stay. You can reactivate them later.",
    "people.deactivated": "{name} is deactivated.",
    "people.activated": "{name} can sign in again.",
    "people.noUsers": "No users match.",
    "people.newUser": "New user",
    "people.password": "Password",
    "people.passwordHint": "At least 12 characters. Share it with the user securely.",
    "people.newPassword": "New password",
    "people.newPasswordHint": "Leave empty to keep the current password. At least 12 characters.",
    "people.noTeam": "No team",
    "people.sipHint": "The phone's username on the switch, for agents (for example agent_1001).",
    "people.created": "{name} can now sign in.",
    "people.teams": "Teams",
    "people.teamName": "Team name",
    "people.members": "Members",
    "people.createdAt": "Created",
    "people.noTeams": "No teams yet.",
    "people.newTeam": "New team",
    "people.teamCreated": "Team “{name}” created.",
    "people.you": "(you)",
  },
  ar: {
    "people.title": "المستخدمون والفرق",
    "people.users": "المستخدمون",
    "people.filterRole": "الدور",
    "people.filterStatus": "الحالة",
    "people.active": "نشط",
    "people.inactive": "معطّل",
    "people.name": "الاسم الكامل",
    "people.email": "البريد الإلكتروني",
    "people.role": "الدور",
    "people.team": "الفريق",
    "people.sipUser": "مستخدم SIP",
    "people.status": "الحالة",
    "people.lastLogin": "آخر تسجيل دخول",
    "people.never": "لم يسجّل الدخول بعد",
    "people.actions": "الإجراءات",
    "people.edit": "تعديل",
    "people.editTitle": "تعديل بيانات {name}",
    "people.deactivate": "تعطيل",
    "people.activate": "إعادة التفعيل",
    "people.deactivateTitle": "تعطيل حساب {name}؟",
    "people.deactivateBody": "لن يتمكن {name} من تسجيل الدخول أو تلقي المكالمات. تبقى مكالماته وتسجيلاته وتقاريره محفوظة، ويمكنك إعادة تفعيل حسابه لاحقاً.",
    "people.deactivated": "تم تعطيل حساب {name}.",
    "people.activated": "يمكن لـ {name} تسجيل الدخول من جديد.",
    "people.noUsers": "لا يوجد مستخدمون مطابقون.",
    "people.newUser": "مستخدم جديد",
    "people.password": "كلمة المرور",
    "people.passwordHint": "12 حرفاً على الأقل. شاركها مع المستخدم بطريقة آمنة.",
    "people.newPassword": "كلمة مرور جديدة",
    "people.newPasswordHint": "اتركها فارغة للإبقاء على كلمة المرور الحالية. 12 حرفاً على الأقل.",
    "people.noTeam": "بلا فريق",
    "people.sipHint": "اسم مستخدم الهاتف على المقسم، للموظفين (مثل agent_1001).",
    "people.created": "يمكن لـ {name} تسجيل الدخول الآن.",
    "people.teams": "الفرق",
    "people.teamName": "اسم الفريق",
    "people.members": "الأعضاء",
    "people.createdAt": "تاريخ الإنشاء",
    "people.noTeams": "لا توجد فرق بعد.",
    "people.newTeam": "فريق جديد",
    "people.teamCreated": "تم إنشاء الفريق «{name}».",
    "people.you": "(أنت)",
  },
});

const ROLES = ["agent", "supervisor", "admin"];

export function mount(main, ctx) {
  const me = ctx.session.user.id;
  let users = [];
  let teams = [];
  let closed = false;
  const usersEl = h("div", { "data-testid": "user-list" });
  const teamsEl = h("div", { "data-testid": "team-list" });
  const userFormEl = h("div", {});
  const teamFormEl = h("div", {});
  const roleFilter = h("select", { name: "role", "data-testid": "user-filter-role", onchange: () => renderUsers() },
    option("", t("common.all")), ROLES.map((r) => option(r, t(`role.${r}`))));
  const statusFilter = h("select", { name: "status", "data-testid": "user-filter-status",
    onchange: () => renderUsers() },
  option("", t("common.all")), option("active", t("people.active")), option("inactive", t("people.inactive")));

  replace(main,
    pageHead(t("people.title")),
    section(t("people.users"),
      h("div", { class: "toolbar" }, field(t("people.filterRole"), roleFilter),
        field(t("people.filterStatus"), statusFilter),
        h("button", { type: "button", class: "secondary", onclick: () => load() }, t("action.refresh"))),
      usersEl),
    h("div", { class: "cols-2" },
      section(t("people.newUser"), userFormEl),
      section(t("people.teams"), teamsEl, h("h3", {}, t("people.newTeam")), teamFormEl)));

  const teamName = (id) => (teams.find((tm) => tm.id === id) || {}).name;

  function teamOptions(selected) {
    return [option("", t("people.noTeam"), !selected), teams.map((tm) => option(tm.id, tm.name, tm.id === selected))];
  }

  async function load() {
    try {
      [users, teams] = await Promise.all([all("/v1/users", { limit: 200 }, 5000), all("/v1/teams", { limit: 200 }, 1000)]);
    } catch (error) {
      if (closed) return;
      showLoadError(usersEl, error, () => load());
      return;
    }
    if (closed) return;
    users.sort((a, b) => a.full_name.localeCompare(b.full_name));
    teams.sort((a, b) => a.name.localeCompare(b.name));
    renderUsers();
    renderTeams();
    refreshTeamSelects();
  }

  function renderUsers() {
    const role = roleFilter.value;
    const status = statusFilter.value;
    const shown = users.filter((u) => (!role || u.role === role)
      && (!status || (status === "active") === u.is_active));
    const focused = usersEl.contains(document.activeElement) ? document.activeElement.dataset : null;
    replace(usersEl, table([
      { label: t("people.name"), render: (u) => [u.full_name, u.id === me ? [" ", h("small", {}, t("people.you"))] : null] },
      { label: t("people.email"), render: (u) => h("span", { dir: "ltr" }, u.email) },
      { label: t("people.role"), render: (u) => t(`role.${u.role}`) },
      { label: t("people.team"), render: (u) => teamName(u.team_id) || "—" },
      { label: t("people.sipUser"), render: (u) => (u.sip_user ? h("code", { dir: "ltr" }, u.sip_user) : "—") },
      { label: t("people.status"), render: (u) => (u.is_active ? badge(t("people.active"), "ok")
        : badge(t("people.inactive"), "bad")) },
      { label: t("people.lastLogin"), render: (u) => (u.last_login_at ? fmtDateTime(u.last_login_at) : t("people.never")) },
      { label: t("people.actions"), render: (u) => h("div", { class: "row-actions" },
        h("button", { type: "button", class: "secondary", "data-testid": "user-edit", "data-id": u.id,
          "aria-label": `${t("people.edit")}: ${u.full_name}`, onclick: () => edit(u) }, t("people.edit")),
        u.id === me ? null : h("button", {
          type: "button", class: u.is_active ? "danger" : "primary", "data-testid": "user-toggle-active",
          "data-id": u.id, "aria-label": `${u.is_active ? t("people.deactivate") : t("people.activate")}: ${u.full_name}`,
          onclick: (e) => toggleActive(u, e.currentTarget),
        }, u.is_active ? t("people.deactivate") : t("people.activate"))) },
    ], shown, {
      empty: t("people.noUsers"),
      rowAttrs: (u) => ({ "data-testid": "user-row", "data-id": u.id, "data-email": u.email,
        "data-active": String(u.is_active) }),
    }));
    if (focused && focused.id) {
      usersEl.querySelector(`[data-testid="${focused.testid}"][data-id="${CSS.escape(focused.id)}"]`)?.focus();
    }
  }

  async function toggleActive(user, button) {
    if (user.is_active) {
      const ok = await confirmDialog(t("people.deactivateTitle", { name: user.full_name }),
        t("people.deactivateBody", { name: user.full_name }),
        { confirm: t("people.deactivate"), danger: true, testid: "user-deactivate-confirm" });
      if (!ok) return;
    }
    try {
      const updated = await busy(button, () => api("PATCH", `/v1/users/${user.id}`,
        { body: { is_active: !user.is_active } }));
      users = users.map((u) => (u.id === updated.id ? updated : u));
      toast(t(updated.is_active ? "people.activated" : "people.deactivated", { name: updated.full_name }), "ok");
      renderUsers();
      renderTeams();
      usersEl.querySelector(`[data-testid="user-toggle-active"][data-id="${CSS.escape(updated.id)}"]`)?.focus();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  function edit(user) {
    const id = `user-edit-${user.id}`;
    const form = h("form", { id, class: "stack", novalidate: true, "data-testid": "user-edit-form" },
      formNotice(),
      field(t("people.name"), h("input", { name: "full_name", value: user.full_name, required: true, maxlength: 200 })),
      field(t("people.role"), h("select", { name: "role" }, ROLES.map((r) => option(r, t(`role.${r}`), r === user.role)))),
      field(t("people.team"), h("select", { name: "team_id" }, teamOptions(user.team_id))),
      field(t("people.sipUser"), h("input", { name: "sip_user", value: user.sip_user || "", dir: "ltr",
        autocomplete: "off", spellcheck: "false" }), t("people.sipHint")),
      field(t("people.newPassword"), h("input", { name: "password", type: "password", minlength: 12,
        autocomplete: "new-password" }), t("people.newPasswordHint")));
    const save = h("button", { type: "submit", form: id, class: "primary", "data-testid": "user-save" },
      t("action.save"));
    const cancel = h("button", { type: "button", class: "secondary",
      onclick: (e) => e.currentTarget.closest("dialog").close() }, t("action.cancel"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearNotice(form);
      const v = formValues(form);
      const body = {};
      if (v.full_name !== user.full_name) body.full_name = v.full_name;
      if (v.role !== user.role) body.role = v.role;
      if ((v.team_id || null) !== (user.team_id || null)) body.team_id = v.team_id || null;
      if ((v.sip_user || null) !== (user.sip_user || null)) body.sip_user = v.sip_user || null;
      if (v.password) body.password = form.elements.password.value;
      try {
        const updated = Object.keys(body).length
          ? await busy(save, () => api("PATCH", `/v1/users/${user.id}`, { body })) : user;
        users = users.map((u) => (u.id === updated.id ? updated : u));
        toast(t("common.saved"), "ok");
        form.closest("dialog").close();
        renderUsers();
        renderTeams();
      } catch (error) {
        showProblem(form, error);
      }
    });
    dialog(t("people.editTitle", { name: user.full_name }), form, { actions: [cancel, save] });
    form.elements.full_name.focus();
  }

  // -- create a user -------------------------------------------------------------------------------------------

  const teamSelects = new Set();
  function refreshTeamSelects() {
    for (const select of teamSelects) {
      const value = select.value;
      replace(select, teamOptions(value));
    }
  }

  function renderUserForm() {
    const teamSelect = h("select", { name: "team_id", "data-testid": "user-team" }, teamOptions(null));
    teamSelects.add(teamSelect);
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "user-create" }, t("action.create"));
    const form = h("form", { class: "stack", novalidate: true, "data-testid": "user-form" },
      formNotice(),
      field(t("people.name"), h("input", { name: "full_name", required: true, maxlength: 200, autocomplete: "off",
        "data-testid": "user-name" })),
      field(t("people.email"), h("input", { name: "email", type: "email", required: true, autocomplete: "off",
        dir: "ltr", "data-testid": "user-email" })),
      field(t("people.password"), h("input", { name: "password", type: "password", required: true, minlength: 12,
        autocomplete: "new-password", "data-testid": "user-password" }), t("people.passwordHint")),
      h("div", { class: "cols-2" },
        field(t("people.role"), h("select", { name: "role", "data-testid": "user-role" },
          ROLES.map((r) => option(r, t(`role.${r}`), r === "agent")))),
        field(t("people.team"), teamSelect)),
      field(t("people.sipUser"), h("input", { name: "sip_user", dir: "ltr", autocomplete: "off", spellcheck: "false",
        "data-testid": "user-sip" }), t("people.sipHint")),
      h("div", { class: "actions" }, submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearNotice(form);
      const v = formValues(form);
      const body = compact({ full_name: v.full_name, email: v.email, password: form.elements.password.value,
        role: v.role, team_id: v.team_id, sip_user: v.sip_user });
      try {
        const created = await busy(submit, () => api("POST", "/v1/users", { body }));
        toast(t("people.created", { name: created.full_name }), "ok");
        form.reset();
        users = [...users, created].sort((a, b) => a.full_name.localeCompare(b.full_name));
        renderUsers();
        renderTeams();
        form.elements.full_name.focus();
      } catch (error) {
        showProblem(form, error);
      }
    });
    replace(userFormEl, form);
  }

  // -- teams ---------------------------------------------------------------------------------------------------

  function renderTeams() {
    const members = (id) => users.filter((u) => u.team_id === id && u.is_active).length;
    replace(teamsEl, table([
      { label: t("people.teamName"), render: (tm) => tm.name },
      { label: t("people.members"), class: "num", render: (tm) => fmtNumber(members(tm.id)) },
      { label: t("people.createdAt"), render: (tm) => fmtDateTime(tm.created_at) },
    ], teams, { empty: t("people.noTeams"), rowAttrs: (tm) => ({ "data-testid": "team-row", "data-id": tm.id }) }));
  }

  function renderTeamForm() {
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "team-create" }, t("action.create"));
    const form = h("form", { class: "stack", novalidate: true, "data-testid": "team-form" },
      formNotice(),
      field(t("people.teamName"), h("input", { name: "name", required: true, maxlength: 200, autocomplete: "off",
        "data-testid": "team-name" })),
      h("div", { class: "actions" }, submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearNotice(form);
      const { name } = formValues(form);
      try {
        const created = await busy(submit, () => api("POST", "/v1/teams", { body: { name: name || "" } }));
        toast(t("people.teamCreated", { name: created.name }), "ok");
        form.reset();
        teams = [...teams, created].sort((a, b) => a.name.localeCompare(b.name));
        renderTeams();
        refreshTeamSelects();
      } catch (error) {
        showProblem(form, error);
      }
    });
    replace(teamFormEl, form);
  }

  renderUserForm();
  renderTeamForm();
  load();
  return () => {
    closed = true;
  };
}
