import { Notices } from "./components/Notices";
import { QuotaBar } from "./components/QuotaBar";
import { AccountPage } from "./pages/AccountPage";
import { FilesPage } from "./pages/FilesPage";
import { LogInPage, SignUpPage } from "./pages/AuthPages";
import { TrashPage } from "./pages/TrashPage";
import { SharedPage } from "./pages/SharedPage";
import { PublicLinkPage } from "./pages/PublicLinkPage";
import { UsersPage } from "./pages/UsersPage";
import { PluginsPage } from "./pages/PluginsPage";
import { linkClick, navigate, useLocation } from "./router";
import { logOut, session } from "./session";
import { useStore } from "./store";
import { folderOfRoute } from "./util";
import { notifyError } from "./notices";

export function App() {
  const state = useStore(session);
  const location = useLocation();
  const path = location.split("?")[0] ?? "/";

  // A shared link's page is for anyone, signed in or not.
  if (path.startsWith("/s/")) {
    return (
      <>
        <PublicLinkPage location={path} />
        <Notices />
      </>
    );
  }
  if (state.status === "loading") {
    return <div class="loading" aria-busy="true">Loading…</div>;
  }
  if (state.status === "anonymous") {
    const page = path === "/signup" ? <SignUpPage /> : <LogInPage ended={state.ended === true} />;
    return (
      <>
        <main class="auth">{page}</main>
        <Notices />
      </>
    );
  }
  if (path === "/" || path === "/login" || path === "/signup") {
    navigate("/files", true);
  }
  const account = state.account;
  let page;
  if (path === "/trash") page = <TrashPage />;
  else if (path === "/shared") page = <SharedPage />;
  else if (path === "/admin/users" && account.is_admin) page = <UsersPage />;
  else if (path.startsWith("/admin") && account.is_admin) page = <PluginsPage location={location} />;
  else if (path === "/account") page = <AccountPage account={account} />;
  else page = <FilesPage folder={folderOfRoute(path)} />;

  const nav = (to: string, label: string, active: boolean) => (
    <a href={to} aria-current={active ? "page" : undefined} onClick={(e) => linkClick(e, to)}>
      {label}
    </a>
  );
  return (
    <>
      <header class="top">
        <a class="brand" href="/files" onClick={(e) => linkClick(e, "/files")}>
          Coffer
        </a>
        <nav aria-label="Main">
          {nav("/files", "Files", path.startsWith("/files"))}
          {nav("/shared", "Shared", path === "/shared")}
          {nav("/trash", "Trash", path === "/trash")}
          {nav("/account", "Account", path === "/account")}
          {account.is_admin && nav("/admin/users", "Users", path === "/admin/users")}
          {account.is_admin && nav("/admin/plugins", "Plugins", path.startsWith("/admin/plugins"))}
        </nav>
        <QuotaBar account={account} />
        <button
          type="button"
          class="link"
          onClick={() => {
            logOut().catch(notifyError);
          }}
        >
          Log out
        </button>
      </header>
      <main class="content">{page}</main>
      <Notices />
    </>
  );
}
