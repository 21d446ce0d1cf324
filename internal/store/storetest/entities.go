package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

func testTeams(t *testing.T, s store.Store) {
	ctx := context.Background()
	reset := day0().Add(time.Hour)
	tm := &store.Team{
		TeamID: "t1", TeamAlias: "Team One", Models: []string{"gpt-4o"}, MaxBudget: ptr(int64(1_000_000)), SoftBudget: ptr(int64(1)),
		BudgetDuration: "30d", BudgetResetAt: &reset, Spend: 7, RPMLimit: ptr(int64(1)), TPMLimit: ptr(int64(2)),
		MaxParallelRequests: ptr(int64(3)), Metadata: map[string]any{"k": "v"},
		Members: []store.TeamMember{{UserID: "u2", Role: store.TeamRoleUser}, {UserID: "u1", Role: store.TeamRoleAdmin}}, CreatedAt: day0(),
	}
	must(t, s.CreateTeam(ctx, tm))
	if tm.Members[0].UserID != "u1" {
		t.Fatalf("members not sorted: %+v", tm.Members)
	}
	got, err := s.GetTeam(ctx, "t1")
	must(t, err)
	equal(t, "GetTeam", got, tm)
	wantErr(t, s.CreateTeam(ctx, &store.Team{TeamID: "t1"}), store.ErrConflict)
	wantErr(t, s.CreateTeam(ctx, &store.Team{TeamID: "t9", Members: []store.TeamMember{{UserID: "u", Role: "owner"}}}), store.ErrInvalid)
	_, err = s.GetTeam(ctx, "t9")
	wantErr(t, err, store.ErrNotFound)

	up, err := s.UpdateTeam(ctx, "t1", store.TeamUpdate{Blocked: ptr(true), TeamAlias: ptr("renamed"), RPMLimit: store.None[int64]()})
	must(t, err)
	want := *tm
	want.Blocked, want.TeamAlias, want.RPMLimit, want.UpdatedAt = true, "renamed", nil, up.UpdatedAt
	equal(t, "UpdateTeam", up, &want)
	_, err = s.UpdateTeam(ctx, "nope", store.TeamUpdate{Blocked: ptr(true)})
	wantErr(t, err, store.ErrNotFound)

	// Members: add (with a role change for an existing one), remove.
	up, err = s.AddMembers(ctx, "t1", []store.TeamMember{{UserID: "u3"}, {UserID: "u2", Role: store.TeamRoleAdmin}})
	must(t, err)
	equal(t, "after AddMembers", up.Members, []store.TeamMember{
		{UserID: "u1", Role: "admin"}, {UserID: "u2", Role: "admin"}, {UserID: "u3", Role: "user"}})
	up, err = s.RemoveMembers(ctx, "t1", []string{"u1", "nobody"})
	must(t, err)
	equal(t, "after RemoveMembers", up.Members, []store.TeamMember{{UserID: "u2", Role: "admin"}, {UserID: "u3", Role: "user"}})
	_, err = s.AddMembers(ctx, "nope", []store.TeamMember{{UserID: "u1"}})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.AddMembers(ctx, "t1", []store.TeamMember{{UserID: ""}})
	wantErr(t, err, store.ErrInvalid)

	must(t, s.CreateTeam(ctx, &store.Team{TeamID: "t2", TeamAlias: "renamed", CreatedAt: day0().Add(time.Second),
		Members: []store.TeamMember{{UserID: "u3"}}}))
	must(t, s.CreateTeam(ctx, &store.Team{TeamID: "t3", CreatedAt: day0().Add(2 * time.Second)}))
	ts, total, err := s.ListTeams(ctx, store.TeamFilter{MemberID: "u3"})
	must(t, err)
	if total != 2 || ts[0].TeamID != "t1" || ts[1].TeamID != "t2" || len(ts[1].Members) != 1 || len(ts[0].Members) != 2 {
		t.Fatalf("ListTeams by member: %d %+v", total, ts)
	}
	ts, total, err = s.ListTeams(ctx, store.TeamFilter{Page: 2, Size: 2})
	must(t, err)
	if total != 3 || len(ts) != 1 || ts[0].TeamID != "t3" || ts[0].Members != nil {
		t.Fatalf("ListTeams page 2: %d %+v", total, ts)
	}
	ts, _, err = s.ListTeams(ctx, store.TeamFilter{TeamAlias: "renamed"})
	must(t, err)
	if len(ts) != 2 {
		t.Fatalf("ListTeams by alias: %+v", ts)
	}

	n, err := s.DeleteTeams(ctx, []string{"t1", "nope"})
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteTeams = %d", n)
	}
	// Re-creating the team starts with no leftover members.
	must(t, s.CreateTeam(ctx, &store.Team{TeamID: "t1"}))
	got, err = s.GetTeam(ctx, "t1")
	must(t, err)
	if len(got.Members) != 0 {
		t.Fatalf("members survived delete: %+v", got.Members)
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := &store.User{
		UserID: "u1", UserEmail: "a@example.com", UserAlias: "A", UserRole: store.RoleProxyAdmin, Teams: []string{"t1", "t2"},
		Models: []string{"m"}, MaxBudget: ptr(int64(5)), BudgetDuration: "7d", Spend: 1, RPMLimit: ptr(int64(1)),
		TPMLimit: ptr(int64(2)), MaxParallelRequests: ptr(int64(3)), Metadata: map[string]any{"x": "y"}, CreatedAt: day0(),
	}
	must(t, s.CreateUser(ctx, u))
	if u.BudgetResetAt == nil || u.BudgetResetAt.Weekday() != time.Monday {
		t.Fatalf("7d reset not derived: %v", u.BudgetResetAt)
	}
	got, err := s.GetUser(ctx, "u1")
	must(t, err)
	equal(t, "GetUser", got, u)
	wantErr(t, s.CreateUser(ctx, &store.User{UserID: "u1"}), store.ErrConflict)
	wantErr(t, s.CreateUser(ctx, &store.User{UserID: "u9", UserRole: "root"}), store.ErrInvalid)
	must(t, s.CreateUser(ctx, &store.User{UserID: "u2", Teams: []string{"t2"}, CreatedAt: day0().Add(time.Second)}))
	got, err = s.GetUser(ctx, "u2")
	must(t, err)
	if got.UserRole != store.RoleInternalUser {
		t.Fatalf("default role = %q", got.UserRole)
	}

	up, err := s.UpdateUser(ctx, "u1", store.UserUpdate{UserRole: ptr(store.RoleInternalUserViewer), MaxBudget: store.None[int64]()})
	must(t, err)
	want := *u
	want.UserRole, want.MaxBudget, want.UpdatedAt = store.RoleInternalUserViewer, nil, up.UpdatedAt
	equal(t, "UpdateUser", up, &want)
	_, err = s.UpdateUser(ctx, "u1", store.UserUpdate{UserRole: ptr("god")})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.UpdateUser(ctx, "nope", store.UserUpdate{UserAlias: ptr("x")})
	wantErr(t, err, store.ErrNotFound)

	us, total, err := s.ListUsers(ctx, store.UserFilter{TeamID: "t2"})
	must(t, err)
	if total != 2 || us[0].UserID != "u1" || us[1].UserID != "u2" {
		t.Fatalf("ListUsers by team: %d %+v", total, us)
	}
	us, total, err = s.ListUsers(ctx, store.UserFilter{UserRole: store.RoleInternalUser})
	must(t, err)
	if total != 1 || us[0].UserID != "u2" {
		t.Fatalf("ListUsers by role: %d", total)
	}
	us, _, err = s.ListUsers(ctx, store.UserFilter{UserEmail: "a@example.com", TeamID: "t1"})
	must(t, err)
	if len(us) != 1 {
		t.Fatalf("ListUsers by email: %+v", us)
	}

	// Deleting a user removes their memberships.
	must(t, s.CreateTeam(ctx, &store.Team{TeamID: "t1", Members: []store.TeamMember{{UserID: "u1"}, {UserID: "u2"}}}))
	n, err := s.DeleteUsers(ctx, []string{"u1"})
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteUsers = %d", n)
	}
	tm, err := s.GetTeam(ctx, "t1")
	must(t, err)
	equal(t, "members after user delete", tm.Members, []store.TeamMember{{UserID: "u2", Role: "user"}})
	_, err = s.GetUser(ctx, "u1")
	wantErr(t, err, store.ErrNotFound)
}

func testCustomers(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := &store.Customer{UserID: "c1", Alias: "Acme", MaxBudget: ptr(int64(9)), BudgetDuration: "1mo", RPMLimit: ptr(int64(1)),
		TPMLimit: ptr(int64(2)), AllowedModelRegion: "eu", DefaultModel: "gpt-4o-mini", CreatedAt: day0()}
	must(t, s.CreateCustomer(ctx, c))
	if c.BudgetResetAt == nil || c.BudgetResetAt.Day() != 1 {
		t.Fatalf("1mo reset not derived: %v", c.BudgetResetAt)
	}
	got, err := s.GetCustomer(ctx, "c1")
	must(t, err)
	equal(t, "GetCustomer", got, c)
	wantErr(t, s.CreateCustomer(ctx, &store.Customer{UserID: "c1"}), store.ErrConflict)
	must(t, s.CreateCustomer(ctx, &store.Customer{UserID: "c2", CreatedAt: day0().Add(time.Second)}))

	up, err := s.UpdateCustomer(ctx, "c1", store.CustomerUpdate{Blocked: ptr(true)})
	must(t, err)
	if !up.Blocked || up.Alias != "Acme" {
		t.Fatalf("block: %+v", up)
	}
	cs, total, err := s.ListCustomers(ctx, store.CustomerFilter{Blocked: ptr(true)})
	must(t, err)
	if total != 1 || cs[0].UserID != "c1" {
		t.Fatalf("ListCustomers blocked: %d", total)
	}
	up, err = s.UpdateCustomer(ctx, "c1", store.CustomerUpdate{Blocked: ptr(false), DefaultModel: ptr(""), MaxBudget: store.None[int64]()})
	must(t, err)
	want := *c
	want.DefaultModel, want.MaxBudget, want.UpdatedAt = "", nil, up.UpdatedAt
	equal(t, "unblocked", up, &want)
	cs, total, err = s.ListCustomers(ctx, store.CustomerFilter{})
	must(t, err)
	if total != 2 || cs[0].UserID != "c1" {
		t.Fatalf("ListCustomers: %d", total)
	}
	_, err = s.UpdateCustomer(ctx, "nope", store.CustomerUpdate{Blocked: ptr(true)})
	wantErr(t, err, store.ErrNotFound)
	n, err := s.DeleteCustomers(ctx, []string{"c1", "c2", "c3"})
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteCustomers = %d", n)
	}
}
