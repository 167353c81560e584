import { ApiError } from '../api';
import { describeError } from '../context';

interface Props {
  /** `undefined` while there is none. */
  error: unknown;
  /** What failed, after "Could not": `list the stores`. */
  action: string;
  /** Said instead when the API answered 404. */
  notFound?: string;
}

/** Why a load failed, announced at once. */
export function LoadError({ error, action, notFound }: Props) {
  if (error === undefined) return null;
  return (
    <p class="error" role="alert">
      {notFound !== undefined && error instanceof ApiError && error.status === 404
        ? notFound
        : `Could not ${action}: ${describeError(error)}`}
    </p>
  );
}
