package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/store"
)

func TestSchedules(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	q, admin, projectID := p.q, p.admin, p.id
	next := time.Date(2026, 5, 22, 1, 0, 0, 0, time.UTC)

	var ids []int64
	for i, active := range []bool{true, false, true} {
		s, err := q.CreateSchedule(ctx, projectID, admin.ID, store.ScheduleFields{Description: "s", Ref: "refs/heads/main",
			Cron: "0 1 * * 5", CronTimezone: "UTC", Active: active, NextRunAt: next.Add(time.Duration(i) * time.Minute)})
		require.NoError(t, err)
		require.Equal(t, admin.ID, *s.OwnerID)
		require.Equal(t, admin.Username, *s.OwnerUsername)
		require.True(t, next.Add(time.Duration(i)*time.Minute).Equal(s.NextRunAt))
		ids = append(ids, s.ID)
	}

	yes, no := true, false
	for _, tc := range []struct {
		active *bool
		page   store.Page
		want   []int64
		total  int
	}{
		{nil, store.Page{Number: 1, PerPage: 20}, ids, 3},
		{&yes, store.Page{Number: 1, PerPage: 20}, []int64{ids[0], ids[2]}, 2},
		{&no, store.Page{Number: 1, PerPage: 20}, []int64{ids[1]}, 1},
		{nil, store.Page{Number: 2, PerPage: 2}, []int64{ids[2]}, 3},
	} {
		ss, total, err := q.ListSchedules(ctx, projectID, tc.active, tc.page)
		require.NoError(t, err)
		var got []int64
		for _, s := range ss {
			got = append(got, s.ID)
		}
		require.Equal(t, tc.want, got)
		require.Equal(t, tc.total, total)
	}

	// An edit clears the reason the last run created nothing.
	require.NoError(t, q.SetScheduleErrors(ctx, map[int64]string{ids[0]: "ref gone"}))
	s, err := q.ScheduleByID(ctx, projectID, ids[0])
	require.NoError(t, err)
	require.Equal(t, "ref gone", *s.LastError)
	s, err = q.UpdateSchedule(ctx, projectID, ids[0], store.ScheduleFields{Description: "d", Ref: "refs/tags/v1",
		Cron: "@daily", CronTimezone: "Asia/Tokyo", Active: false, NextRunAt: next})
	require.NoError(t, err)
	require.Nil(t, s.LastError)
	require.Equal(t, "refs/tags/v1", s.Ref)
	require.False(t, s.Active)

	_, err = q.ScheduleByID(ctx, projectID+1, ids[0])
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = q.UpdateSchedule(ctx, projectID+1, ids[0], store.ScheduleFields{NextRunAt: next})
	require.ErrorIs(t, err, store.ErrNotFound)

	// Variables: a duplicate key, partial updates.
	_, err = q.CreateScheduleVariable(ctx, ids[0], store.Variable{Key: "A", Value: "1", VariableType: "env_var"})
	require.NoError(t, err)
	_, err = q.CreateScheduleVariable(ctx, ids[0], store.Variable{Key: "A", Value: "2", VariableType: "env_var"})
	require.ErrorIs(t, err, store.ErrDuplicate)
	file := "file"
	v, err := q.UpdateScheduleVariable(ctx, ids[0], "A", nil, &file)
	require.NoError(t, err)
	require.Equal(t, store.Variable{Key: "A", Value: "1", VariableType: "file"}, v)
	_, err = q.UpdateScheduleVariable(ctx, ids[0], "B", nil, nil)
	require.ErrorIs(t, err, store.ErrNotFound)

	// Delete takes the variables along.
	require.NoError(t, q.DeleteSchedule(ctx, projectID, ids[0]))
	require.ErrorIs(t, q.DeleteSchedule(ctx, projectID, ids[0]), store.ErrNotFound)
	vars, err := q.ScheduleVariables(ctx, ids[0])
	require.NoError(t, err)
	require.Empty(t, vars)
}
