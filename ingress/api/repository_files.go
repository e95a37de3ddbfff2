package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/triggerd/triggerd/internal/entity"
	"github.com/triggerd/triggerd/internal/store"
)

// filePathVar reads :file_path and applies Grape's file_path validator:
// no ".." segment and no absolute path (the raw endpoint allows a leading
// slash, which simply names no file).
func filePathVar(r *http.Request, allowLeadingSlash bool) (string, error) {
	p := pathVar(r, "file_path")
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", errInvalidPath
		}
	}
	if strings.HasPrefix(p, "/") && !allowLeadingSlash {
		return "", errInvalidPath
	}
	return p, nil
}

// blob is a file as the read endpoints find it.
type blob struct {
	ref     string // as asked for; "" when the raw endpoint defaulted it
	commit  store.Commit
	path    string
	id      string
	content []byte
	last    string
}

// readBlob validates a read request and finds the file, in GitLab's
// order: parameters, project, commit, file.
func (s *Server) readBlob(w http.ResponseWriter, r *http.Request, raw bool) (blob, error) {
	filePath, pathErr := filePathVar(r, raw)
	p, err := readParams(w, r)
	if err != nil {
		return blob{}, err
	}
	var errs grapeErrors
	if pathErr != nil {
		errs.add(msgInvalidFilePath)
	}
	var ref string
	if raw {
		ref, _ = errs.optional(p, "ref", false)
	} else {
		ref = errs.required(p, "ref", false)
	}
	if err := errs.err(); err != nil {
		return blob{}, err
	}
	pa, err := s.repoReader(r)
	if err != nil {
		return blob{}, err
	}
	rev := ref
	if rev == "" {
		rev = defaultBranch(pa.Project)
		if rev == "" {
			return blob{}, errCommitNotFound
		}
	}
	ctx := r.Context()
	c, err := s.q.ResolveRevision(ctx, pa.Project.ID, rev, defaultBranch(pa.Project))
	if errors.Is(err, store.ErrNotFound) {
		return blob{}, errCommitNotFound
	}
	if err != nil {
		return blob{}, err
	}
	content, id, err := s.q.FileAt(ctx, pa.Project.ID, c.SHA, filePath)
	if errors.Is(err, store.ErrFileNotFound) || errors.Is(err, store.ErrNotFound) {
		return blob{}, errFileNotFound
	}
	if err != nil {
		return blob{}, err
	}
	last, err := s.q.LastCommitForPath(ctx, pa.Project.ID, c.SHA, filePath)
	if err != nil {
		return blob{}, err
	}
	return blob{ref: ref, commit: c, path: filePath, id: id, content: content, last: last}, nil
}

// file renders a blob as GitLab's file entity, without its content.
func (b blob) file() entity.File {
	sum := sha256.Sum256(b.content)
	return entity.File{
		FileName: path.Base(b.path), FilePath: b.path, Size: len(b.content), Encoding: "base64",
		ContentSHA256: hex.EncodeToString(sum[:]), Ref: b.ref, BlobID: b.id, CommitID: b.commit.SHA,
		LastCommitID: b.last, ExecuteFilemode: false,
	}
}

// setFileHeaders writes the file's metadata as GitLab's X-Gitlab-* headers
// (X-Gitlab-File-Name, X-Gitlab-Content-Sha256...). A ref the request did
// not give is left out, as GitLab leaves out nil headers.
func setFileHeaders(w http.ResponseWriter, f entity.File) {
	h := w.Header()
	h.Set("X-Gitlab-File-Name", f.FileName)
	h.Set("X-Gitlab-File-Path", f.FilePath)
	h.Set("X-Gitlab-Size", strconv.Itoa(f.Size))
	h.Set("X-Gitlab-Encoding", f.Encoding)
	h.Set("X-Gitlab-Content-Sha256", f.ContentSHA256)
	if f.Ref != "" {
		h.Set("X-Gitlab-Ref", f.Ref)
	}
	h.Set("X-Gitlab-Blob-Id", f.BlobID)
	h.Set("X-Gitlab-Commit-Id", f.CommitID)
	h.Set("X-Gitlab-Last-Commit-Id", f.LastCommitID)
	h.Set("X-Gitlab-Execute-Filemode", strconv.FormatBool(f.ExecuteFilemode))
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) error {
	b, err := s.readBlob(w, r, false)
	if err != nil {
		return err
	}
	f := b.file()
	f.Content = base64.StdEncoding.EncodeToString(b.content)
	setFileHeaders(w, f)
	writeJSON(w, http.StatusOK, f)
	return nil
}

// headFile answers GitLab's "get file metadata": the headers of getFile and
// no body.
func (s *Server) headFile(w http.ResponseWriter, r *http.Request) error {
	b, err := s.readBlob(w, r, false)
	if err != nil {
		return err
	}
	setFileHeaders(w, b.file())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	return nil
}

// getRawFile sends the file's bytes as they are, uncached, as GitLab's
// send_git_blob does. ref defaults to the default branch.
func (s *Server) getRawFile(w http.ResponseWriter, r *http.Request) error {
	b, err := s.readBlob(w, r, true)
	if err != nil {
		return err
	}
	setFileHeaders(w, b.file())
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b.content)))
	h.Set("Cache-Control", "max-age=0, private, must-revalidate, no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "Fri, 01 Jan 1990 00:00:00 GMT")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.content)
	return nil
}

// fileWrite is a create, update or delete of one file.
type fileWrite struct {
	path         string
	branch       string
	startBranch  string
	message      string
	authorName   string
	authorEmail  string
	content      []byte
	lastCommitID string
}

// readFileWrite validates a write's parameters in Grape's declaration
// order; withContent for create and update, which also take content,
// encoding and last_commit_id.
func readFileWrite(w http.ResponseWriter, r *http.Request, withContent bool) (fileWrite, error) {
	filePath, pathErr := filePathVar(r, false)
	p, err := readParams(w, r)
	if err != nil {
		return fileWrite{}, err
	}
	var errs grapeErrors
	if pathErr != nil {
		errs.add(msgInvalidFilePath)
	}
	fw := fileWrite{path: filePath}
	fw.branch = errs.required(p, "branch", false)
	fw.message = errs.required(p, "commit_message", false)
	fw.startBranch, _ = errs.optional(p, "start_branch", true)
	fw.authorEmail, _ = errs.optional(p, "author_email", true)
	fw.authorName, _ = errs.optional(p, "author_name", true)
	var content, encoding string
	if withContent {
		content = errs.required(p, "content", true)
		var ok bool
		if encoding, ok = errs.optional(p, "encoding", true); ok {
			errs.oneOf("encoding", encoding, "base64", "text")
		}
		fw.lastCommitID, _ = errs.optional(p, "last_commit_id", true)
		errs.optionalBool(p, "execute_filemode", false)
	}
	if err := errs.err(); err != nil {
		return fileWrite{}, err
	}
	if err := checkWritePath(fw.path); err != nil {
		return fileWrite{}, err
	}
	if withContent {
		if fw.content, err = decodeContent(content, encoding); err != nil {
			return fileWrite{}, err
		}
	}
	return fw, nil
}

// writeFile makes a one-file commit for the files API.
func (s *Server) writeFile(w http.ResponseWriter, r *http.Request, action string) (fileWrite, error) {
	fw, err := readFileWrite(w, r, action != "delete")
	if err != nil {
		return fw, err
	}
	pa, err := s.project(r, store.Developer)
	if err != nil {
		return fw, err
	}
	_, err = s.commit(r.Context(), pa, commitChange{
		req: store.CommitRequest{
			ProjectID: pa.Project.ID, Branch: fw.branch, StartBranch: fw.startBranch, Message: fw.message,
			AuthorName: fw.authorName, AuthorEmail: fw.authorEmail,
			Actions: []store.FileAction{{Action: action, Path: fw.path, Content: fw.content, LastCommitID: fw.lastCommitID}},
		},
		startDefaultsToBranch: true,
	})
	var changed *store.FileChangedError
	switch {
	case errors.Is(err, errPushDenied):
		return fw, messageError(http.StatusBadRequest, errPushDenied.Error())
	case errors.As(err, &changed):
		return fw, messageError(http.StatusBadRequest, "You are attempting to update a file that has changed since you started editing it.")
	}
	return fw, err
}

func (s *Server) createFile(w http.ResponseWriter, r *http.Request) error {
	fw, err := s.writeFile(w, r, "create")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, entity.FileCommit{FilePath: fw.path, Branch: fw.branch})
	return nil
}

func (s *Server) updateFile(w http.ResponseWriter, r *http.Request) error {
	fw, err := s.writeFile(w, r, "update")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entity.FileCommit{FilePath: fw.path, Branch: fw.branch})
	return nil
}

func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.writeFile(w, r, "delete"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
